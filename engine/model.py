"""A loaded model: the domain plus the trained NLU pipeline and/or policy ensemble of an archive.

Loading extracts the archive into a temporary folder, reads every component into memory and
removes the folder again, so a ``Model`` holds no open files and can be shared across threads
(parsing and predicting only read it).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from engine.archive import unpack_archive
from engine.domain import Domain
from engine.errors import EngineError, ModelLoadError
from engine.nlu import NLUPipeline, parse_intent_shortcut
from engine.policies import PolicyEnsemble
from engine.training import CORE_DIR, NLU_DIR


class Model:
    """What the server serves: parse messages, predict next actions, describe itself."""

    def __init__(
        self,
        *,
        path: Path,
        metadata: dict[str, Any],
        domain: Domain,
        nlu: NLUPipeline | None,
        policies: PolicyEnsemble | None,
    ) -> None:
        self.path = path
        self.metadata = metadata
        self.domain = domain
        self.nlu = nlu
        self.policies = policies

    @property
    def model_id(self) -> str:
        return str(self.metadata["model_id"])

    @property
    def file_name(self) -> str:
        return self.path.name

    @property
    def fingerprint(self) -> str:
        return str(self.metadata.get("fingerprint", ""))

    @property
    def has_nlu(self) -> bool:
        return self.nlu is not None

    @property
    def has_core(self) -> bool:
        return self.policies is not None

    @property
    def max_history_needed(self) -> int | None:
        """How many past turns the policies look at (None: they may look at all of them)."""
        return self.policies.max_history_needed if self.policies is not None else None

    def parse(self, text: str, message_id: str | None = None) -> dict[str, Any]:
        """Rasa's NLU result for ``text``; a Core-only model only understands ``/intent``."""
        # The shortcut is checked against the domain's intents first, as Rasa does, so that
        # intents without NLU examples (triggered by buttons or the API) still work.
        result = parse_intent_shortcut(text, self.domain.intents)
        if result is None and self.nlu is not None:
            return self.nlu.parse(text, message_id=message_id)
        result = result or empty_parse_result(text)
        if message_id is not None:
            result["message_id"] = message_id
        return result

    def predict(self, tracker: Any) -> Any:
        """The policies' scores for the next action, or None for an NLU-only model."""
        if self.policies is None:
            return None
        return self.policies.predict(tracker, self.domain)


def load_model(path: str | Path) -> Model:
    """Load an archive written by :func:`engine.training.train`; ModelLoadError when unusable."""
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="convapi-model-") as work:
        folder = Path(work)
        metadata = unpack_archive(path, folder)
        try:
            return _load_parts(path, folder, metadata)
        except ModelLoadError:
            raise
        except (
            EngineError,
            OSError,
            ValueError,
            KeyError,
            TypeError,
            IndexError,
            AttributeError,
        ) as exc:
            # A tampered or truncated component: the archive is unusable, not the server.
            raise ModelLoadError(
                f"the model archive '{path.name}' cannot be loaded: {exc}"
            ) from exc


def _load_parts(path: Path, folder: Path, metadata: dict[str, Any]) -> Model:
    domain_file = folder / "domain.yml"
    if not domain_file.is_file():
        raise ModelLoadError(f"the model archive '{path.name}' has no domain.yml")
    domain = Domain.load(domain_file)
    nlu = NLUPipeline.load(folder / NLU_DIR) if (folder / NLU_DIR).is_dir() else None
    policies = PolicyEnsemble.load(folder / CORE_DIR) if (folder / CORE_DIR).is_dir() else None
    if nlu is None and policies is None:
        raise ModelLoadError(f"the model archive '{path.name}' holds neither NLU nor policies")
    return Model(path=path, metadata=metadata, domain=domain, nlu=nlu, policies=policies)


def empty_parse_result(text: str) -> dict[str, Any]:
    """What a model without NLU answers for free text (API.md 4.15)."""
    return {"text": text, "intent": {"name": None, "confidence": 0.0}, "entities": []}
