"""Intent classifiers (DIET's linear stand-in, keywords, fallback) and the CRF entity extractor."""

from __future__ import annotations

import re
from typing import Any

from engine.nlu.component import Component
from engine.nlu.crf import EntityTagging, crf_params
from engine.nlu.linear import LinearModel, ranking
from engine.nlu.message import Message
from engine.nlu.storage import Store
from engine.training_data.nlu import NLUTrainingData

FALLBACK_INTENT = "nlu_fallback"


class DIETClassifier(Component):
    """Intents with a calibrated linear model, entities (with roles and groups) with a CRF.

    DIET's neural options (epochs, layers, ...) are accepted and ignored: the learners here
    converge on their own. ``C``, ``max_iter`` and ``temperature`` tune the intent model,
    ``L1_c``/``L2_c`` the CRF.
    """

    name = "DIETClassifier"
    defaults = {
        "intent_classification": True,
        "entity_recognition": True,
        "ranking_length": 10,
        # C: 1, 2 and 4 score alike in 5-fold cross-validation on CLINC150's training data.
        # The softmax temperature that turns SVM margins into confidences is fitted on
        # held-out scores when null (and is 0.2 on data too small to hold any out); a number
        # fixes it. ``use_idf`` null chooses idf or flat n-gram weights on held-out data.
        "C": 2.0,
        "max_iter": 1000,
        "temperature": None,
        "use_bigrams": True,
        "use_idf": None,
        "L1_c": 0.1,
        "L2_c": 0.05,
        "max_iterations": 60,
    }

    def __init__(self, options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self.model: LinearModel | None = None
        self.tagging: EntityTagging | None = None

    def train(self, messages: list[Message], data: NLUTrainingData) -> None:
        labelled = [m for m in messages if m.example and m.example.intent]
        if self.options["intent_classification"] and labelled:
            self.model = LinearModel(
                C=float(self.options["C"]),
                max_iter=int(self.options["max_iter"]),
                bigrams=bool(self.options["use_bigrams"]),
                temperature=_optional_float(self.options["temperature"]),
                use_idf=_optional_bool(self.options["use_idf"]),
            )
            self.model.fit(labelled, [m.example.intent for m in labelled], self.seed)
        if self.options["entity_recognition"] and data.entities:
            self.tagging = EntityTagging(self.name, crf_params(self.options))
            self.tagging.train(messages)

    def process(self, message: Message) -> None:
        if self.model is not None:
            probs = self.model.predict([message])[0]
            ranked = ranking(self.model.classes, probs, int(self.options["ranking_length"]) or 10)
            message.intent = dict(ranked[0])
            message.intent_ranking = ranked
        if self.tagging is not None:
            message.entities.extend(self.tagging.extract(message))

    def persist(self, store: Store) -> dict[str, Any]:
        state: dict[str, Any] = {}
        if self.model is not None:
            state["intent_model"] = self.model.save(store, "intent")
        if self.tagging is not None:
            state["entities"] = self.tagging.persist(store)
        return state

    def restore(self, state: dict[str, Any], store: Store) -> None:
        if "intent_model" in state:
            self.model = LinearModel()
            self.model.load(store, "intent", state["intent_model"])
        if "entities" in state:
            self.tagging = EntityTagging(self.name, crf_params(self.options))
            self.tagging.restore(state["entities"], store)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _optional_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


class CRFEntityExtractor(DIETClassifier):
    """Entities only, with crfsuite, as Rasa's CRFEntityExtractor."""

    name = "CRFEntityExtractor"
    defaults = {
        **DIETClassifier.defaults,
        "intent_classification": False,
        "entity_recognition": True,
        "BILOU_flag": True,
        "max_iterations": 50,
        "L2_c": 0.1,
    }

    def __init__(self, options: dict[str, Any], **kwargs: Any) -> None:
        options = {**options, "intent_classification": False, "entity_recognition": True}
        super().__init__(options, **kwargs)


class LinearIntentClassifier(DIETClassifier):
    """LogisticRegressionClassifier / SklearnIntentClassifier: intents only."""

    name = "LogisticRegressionClassifier"

    def __init__(self, options: dict[str, Any], **kwargs: Any) -> None:
        options = {**options, "intent_classification": True, "entity_recognition": False}
        super().__init__(options, **kwargs)


class KeywordIntentClassifier(Component):
    """The intent whose training example occurs as a whole word sequence in the message."""

    name = "KeywordIntentClassifier"
    defaults = {"case_sensitive": True}

    def __init__(self, options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self.keywords: dict[str, str] = {}

    def train(self, messages: list[Message], data: NLUTrainingData) -> None:
        for example in data.intent_examples:
            # Rasa drops a keyword claimed by two intents: it cannot tell them apart.
            if self.keywords.get(example.text, example.intent) != example.intent:
                self.keywords[example.text] = ""
            else:
                self.keywords[example.text] = str(example.intent)
        self.keywords = {k: v for k, v in self.keywords.items() if v}

    def process(self, message: Message) -> None:
        flags = 0 if self.options["case_sensitive"] else re.IGNORECASE
        for keyword, intent in self.keywords.items():
            if re.search(rf"\b{re.escape(keyword)}\b", message.text, flags):
                message.intent = {"name": intent, "confidence": 1.0}
                message.intent_ranking = [dict(message.intent)]
                return
        if message.intent is None:
            message.intent = {"name": None, "confidence": 0.0}

    def persist(self, store: Store) -> dict[str, Any]:
        return {"keywords": self.keywords}

    def restore(self, state: dict[str, Any], store: Store) -> None:
        self.keywords = state["keywords"]


class FallbackClassifier(Component):
    """Replaces a low-confidence or ambiguous intent with ``nlu_fallback``."""

    name = "FallbackClassifier"
    defaults = {"threshold": 0.3, "ambiguity_threshold": 0.1}

    def train(self, messages: list[Message], data: NLUTrainingData) -> None:
        """Nothing to learn."""

    def process(self, message: Message) -> None:
        if not self._should_fall_back(message):
            return
        threshold = float(self.options["threshold"])
        message.intent = {"name": FALLBACK_INTENT, "confidence": threshold}
        message.intent_ranking = [dict(message.intent), *message.intent_ranking][:10]

    def _should_fall_back(self, message: Message) -> bool:
        intent = message.intent or {}
        if intent.get("name") is None:
            return False
        if float(intent.get("confidence", 0.0)) < float(self.options["threshold"]):
            return True
        ambiguity = self.options.get("ambiguity_threshold")
        ranked = message.intent_ranking
        if ambiguity is None or len(ranked) < 2:
            return False
        return ranked[0]["confidence"] - ranked[1]["confidence"] < float(ambiguity)
