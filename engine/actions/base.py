"""What every action shares: the context it runs in, the interface, rejection."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.domain import Domain
from engine.events import Event
from engine.responses import ResponseRenderer
from engine.tracker import Tracker

if TYPE_CHECKING:
    from engine.actions.action_server import ActionServerClient


class ActionRejected(Exception):
    """The action refuses to run now (Rasa's ``ActionExecutionRejection``); prediction goes on."""

    def __init__(self, action_name: str, message: str | None = None) -> None:
        self.action_name = action_name
        super().__init__(message or f"Action '{action_name}' rejected execution.")


@dataclass
class ActionContext:
    """Everything an action may read; actions return events and never change the tracker."""

    tracker: Tracker
    domain: Domain
    renderer: ResponseRenderer
    sender_id: str
    output_channel: str | None = None
    action_metadata: dict | None = None
    server: ActionServerClient | None = None
    lookup: Callable[[str], Action] | None = field(default=None, repr=False)

    def with_tracker(self, tracker: Tracker) -> ActionContext:
        return ActionContext(
            tracker,
            self.domain,
            self.renderer,
            self.sender_id,
            self.output_channel,
            self.action_metadata,
            self.server,
            self.lookup,
        )

    def action(self, name: str) -> Action:
        assert self.lookup is not None, "actions that run other actions need a lookup"
        return self.lookup(name)

    def utter(self, response: str, **kwargs: Any) -> list[Event]:
        """The ``bot`` event of a domain response, or nothing when the domain lacks it."""
        event = self.renderer.render(response, self.tracker.slots, self.output_channel, **kwargs)
        return [event] if event is not None else []


class Action:
    """An action by name; ``run`` returns the events it produces."""

    name: str = ""

    def run(self, ctx: ActionContext) -> list[Event]:
        raise NotImplementedError


def scratch_tracker(ctx: ActionContext, events: Iterable[Event]) -> Tracker:
    """A copy of the context's tracker with ``events`` applied (the original stays untouched)."""
    copy = ctx.tracker.copy()
    for event in events:
        copy.update(event)
    return copy
