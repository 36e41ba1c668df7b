"""NLUPipeline: the components of ``config.yml``'s ``pipeline`` trained, run, saved and loaded."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import ModelLoadError
from engine.nlu.component import Component
from engine.nlu.message import Message
from engine.nlu.registry import build, expand_pipeline
from engine.nlu.shortcut import parse_intent_shortcut
from engine.nlu.storage import Store, read_json, write_json
from engine.training_data.nlu import NLUTrainingData

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
DEFAULT_SEED = 42
_INDEX_FILE = "nlu_pipeline.json"


class NLUPipeline:
    """Build with ``from_config``, then ``train`` and ``parse``; ``persist``/``load`` round-trip."""

    def __init__(
        self,
        specs: list[dict[str, Any]],
        *,
        language: str = "en",
        substitutions: list[str] | None = None,
        seed: int = DEFAULT_SEED,
    ) -> None:
        self.specs = specs
        self.language = language
        self.seed = seed
        self.substitutions = list(substitutions or [])
        self.components: list[Component] = [
            build(spec, language=language, seed=seed) for spec in specs
        ]
        self.intents: list[str] = []
        self.trained = False

    @property
    def component_names(self) -> list[str]:
        return [component.name for component in self.components]

    @classmethod
    def from_config(
        cls, pipeline: list[dict[str, Any]] | None, *, language: str = "en"
    ) -> NLUPipeline:
        """Components from config entries (Rasa's default when empty); raises ConfigError."""
        specs, notes = expand_pipeline(pipeline)
        seeds = [spec.get("random_seed") for spec in specs if spec.get("random_seed") is not None]
        return cls(
            specs,
            language=language,
            substitutions=notes,
            seed=int(seeds[0]) if seeds else DEFAULT_SEED,
        )

    def train(
        self,
        data: NLUTrainingData,
        *,
        progress: Callable[[str, float], None] | None = None,
        responses: dict[str, list[Any]] | None = None,
    ) -> None:
        """Train every component in order on ``data``; ``responses`` feed the ResponseSelector."""
        for note in self.substitutions:
            logger.warning("NLU pipeline: %s.", note)
        messages = [Message(example.text, example) for example in data.examples]
        self.intents = sorted(data.intents)
        for index, component in enumerate(self.components):
            if progress:
                progress(component.name, index / len(self.components))
            if responses is not None and hasattr(component, "responses"):
                component.responses = dict(responses)
            component.train(messages, data)
        if progress:
            progress("done", 1.0)
        self.trained = True

    def parse(self, text: str, *, message_id: str | None = None) -> dict[str, Any]:
        """Rasa's NLU result for ``text``; an ``/intent`` shortcut skips the components."""
        result = parse_intent_shortcut(text, self.intents or None)
        if result is None:
            message = Message(text)
            for component in self.components:
                component.process(message)
            result = message.to_result()
        if message_id is not None:
            result["message_id"] = message_id
        return result

    def persist(self, directory: Path) -> None:
        """Write JSON, .npz arrays and crfsuite files into ``directory`` (no pickle)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        states = []
        for index, component in enumerate(self.components):
            store = Store(directory, f"component_{index}_")
            states.append({"name": component.name, "state": component.persist(store)})
        index_data = {
            "format_version": FORMAT_VERSION,
            "language": self.language,
            "seed": self.seed,
            "specs": self.specs,
            "substitutions": self.substitutions,
            "intents": self.intents,
            "components": states,
        }
        write_json(directory / _INDEX_FILE, index_data)

    @classmethod
    def load(cls, directory: Path) -> NLUPipeline:
        """Rebuild a persisted pipeline; raises ModelLoadError on missing or corrupt files."""
        directory = Path(directory)
        data = read_json(directory / _INDEX_FILE)
        try:
            if data["format_version"] != FORMAT_VERSION:
                raise ModelLoadError(f"unsupported NLU format version {data['format_version']}")
            pipeline = cls(
                data["specs"],
                language=data["language"],
                substitutions=data["substitutions"],
                seed=data["seed"],
            )
            pipeline.intents = list(data["intents"])
            for index, (component, saved) in enumerate(
                zip(pipeline.components, data["components"], strict=True)
            ):
                component.restore(saved["state"], Store(directory, f"component_{index}_"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"the NLU model in '{directory}' is corrupt: {exc!r}") from exc
        pipeline.trained = True
        return pipeline
