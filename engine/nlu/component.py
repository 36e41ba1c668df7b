"""The base every pipeline component shares: options, training, processing, persistence."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.errors import ConfigError
from engine.nlu.message import Message
from engine.nlu.storage import Store
from engine.training_data.nlu import NLUTrainingData


class Component:
    """A named step; ``defaults`` lists the options Rasa documents for it."""

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, options: dict[str, Any], *, language: str = "en", seed: int = 0) -> None:
        self.options = {**self.defaults, **options}
        self.language = language
        self.seed = seed

    def train(self, messages: list[Message], data: NLUTrainingData) -> None:
        """Learn from the training messages, then annotate them for the next components."""
        for message in messages:
            self.process(message)

    def process(self, message: Message) -> None:
        """Annotate one message at parse time."""

    def persist(self, store: Store) -> dict[str, Any]:
        """Write arrays/files through ``store``; return the JSON part of the state."""
        return {}

    def restore(self, state: dict[str, Any], store: Store) -> None:
        """Rebuild the trained state written by ``persist``."""

    def option_error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"component {self.name}: option '{key}' {problem}", key="pipeline")
