"""The message a pipeline works on: tokens, features and what the components found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import scipy.sparse as sp

from engine.training_data.nlu import Example


@dataclass
class Token:
    text: str
    start: int
    end: int


@dataclass
class Message:
    """Carries one text through the pipeline; ``example`` holds the gold labels in training."""

    text: str
    example: Example | None = None
    tokens: list[Token] = field(default_factory=list)
    # Sentence-level sparse rows (1 x d), one per featurizer, in pipeline order.
    sentence_features: list[sp.csr_matrix] = field(default_factory=list)
    # Per-token feature dicts for the CRFs (crfsuite's own input format).
    token_features: list[dict[str, Any]] = field(default_factory=list)
    intent: dict[str, Any] | None = None
    intent_ranking: list[dict[str, Any]] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    response_selector: dict[str, Any] | None = None

    def features(self) -> sp.csr_matrix | None:
        """All sentence features side by side, as the classifiers read them."""
        if not self.sentence_features:
            return None
        return sp.hstack(self.sentence_features, format="csr")

    def ensure_token_features(self) -> list[dict[str, Any]]:
        if len(self.token_features) != len(self.tokens):
            self.token_features = [{} for _ in self.tokens]
        return self.token_features

    def to_result(self) -> dict[str, Any]:
        """Rasa's NLU parse result."""
        result: dict[str, Any] = {
            "text": self.text,
            "intent": self.intent or {"name": None, "confidence": 0.0},
            "entities": self.entities,
            "intent_ranking": self.intent_ranking,
        }
        if self.response_selector is not None:
            result["response_selector"] = self.response_selector
        return result
