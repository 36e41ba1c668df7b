"""The ways a step of interactive learning can end besides "go on", as Rasa's module has them.

They are exceptions so a question deep inside a step can leave it at once; the session loop
catches each one and does what it names.
"""

from __future__ import annotations


class Outcome(Exception):
    """The author asked to leave the current step."""


class RestartConversation(Outcome):
    """Start the conversation over (a ``restart`` event)."""


class ForkTracker(Outcome):
    """Go back to before an earlier user message and continue from there."""


class UndoLastStep(Outcome):
    """Revert the latest action, or the latest user message."""


class ExportConversation(Outcome):
    """Write the conversation so far as training data, then carry on."""


class Abort(Outcome):
    """Stop the session."""
