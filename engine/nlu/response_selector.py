"""ResponseSelector: picks the response key of a retrieval intent (``faq/ask_name``)."""

from __future__ import annotations

from typing import Any

from engine.nlu.component import Component
from engine.nlu.linear import LinearModel, ranking
from engine.nlu.message import Message
from engine.nlu.storage import Store
from engine.training_data.nlu import NLUTrainingData

DEFAULT_KEY = "default"


class ResponseSelector(Component):
    """One linear model over the full ``intent/response_key`` labels of retrieval examples."""

    name = "ResponseSelector"
    defaults = {"retrieval_intent": None, "ranking_length": 10, "C": 20.0, "max_iter": 200}

    def __init__(self, options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self.model: LinearModel | None = None
        self.retrieval_intents: list[str] = []
        self.responses: dict[str, list[Any]] = {}

    def train(self, messages: list[Message], data: NLUTrainingData) -> None:
        wanted = self.options["retrieval_intent"]
        self.retrieval_intents = sorted(data.retrieval_intents)
        chosen = [
            m
            for m in messages
            if m.example and m.example.response_key and (not wanted or m.example.intent == wanted)
        ]
        if not chosen:
            return
        self.model = LinearModel(C=float(self.options["C"]), max_iter=int(self.options["max_iter"]))
        self.model.fit(chosen, [str(m.example.full_intent) for m in chosen], self.seed)

    def process(self, message: Message) -> None:
        selector = message.response_selector or {"all_retrieval_intents": self.retrieval_intents}
        message.response_selector = selector
        key = self.options["retrieval_intent"] or DEFAULT_KEY
        if self.model is None:
            selector[key] = self._prediction(None, [])
            return
        probs = self.model.predict([message])[0]
        ranked = ranking(self.model.classes, probs, int(self.options["ranking_length"]) or 10)
        selector[key] = self._prediction(ranked[0], ranked)

    def _prediction(self, top: dict[str, Any] | None, ranked: list[dict[str, Any]]) -> dict:
        label = top["name"] if top else None
        return {
            "response": {
                "responses": self.responses.get(f"utter_{label}", []) if label else None,
                "confidence": top["confidence"] if top else 0.0,
                "intent_response_key": label,
                "utter_action": f"utter_{label}" if label else None,
            },
            "ranking": [
                {"confidence": r["confidence"], "intent_response_key": r["name"]} for r in ranked
            ],
        }

    def persist(self, store: Store) -> dict[str, Any]:
        state: dict[str, Any] = {"retrieval_intents": self.retrieval_intents}
        state["responses"] = self.responses
        if self.model is not None:
            state["model"] = self.model.save(store, "responses")
        return state

    def restore(self, state: dict[str, Any], store: Store) -> None:
        self.retrieval_intents = state["retrieval_intents"]
        self.responses = state.get("responses", {})
        if "model" in state:
            self.model = LinearModel()
            self.model.load(store, "responses", state["model"])
