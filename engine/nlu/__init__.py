"""The NLU half of the engine: a Rasa-compatible pipeline trained with scikit-learn and crfsuite."""

from __future__ import annotations

from engine.nlu.pipeline import NLUPipeline
from engine.nlu.registry import DEFAULT_PIPELINE
from engine.nlu.shortcut import parse_intent_shortcut

__all__ = ["DEFAULT_PIPELINE", "NLUPipeline", "parse_intent_shortcut"]
