"""Sequence tagging with a linear-chain CRF (python-crfsuite), shared by DIET and the CRF extractor.

Entities are tagged BILOU; roles and groups get their own tagger, as Rasa gives them their own
CRF layer. The model file is crfsuite's native format, so loading never unpickles anything.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import pycrfsuite

from engine.errors import ModelLoadError
from engine.nlu.message import Message
from engine.nlu.storage import Store

NO_TAG = "O"


def crf_features(message: Message) -> list[dict[str, float]]:
    """Each token's featurizer output plus its lower-cased word and its neighbours' words."""
    words = [t.text.lower() for t in message.tokens]
    extra = message.token_features if len(message.token_features) == len(words) else None
    rows = []
    for i, word in enumerate(words):
        feats: dict[str, float] = {"bias": 1.0, f"w:{word}": 1.0}
        feats[f"w-1:{words[i - 1]}" if i else "BOS"] = 1.0
        feats[f"w+1:{words[i + 1]}" if i + 1 < len(words) else "EOS"] = 1.0
        if extra:
            feats.update(extra[i])
        rows.append(feats)
    return rows


def bilou_tags(message: Message, key: str) -> list[str]:
    """Gold tags for ``key`` (entity, role or group) of a training message's tokens."""
    tags = [NO_TAG] * len(message.tokens)
    for entity in message.example.entities if message.example else []:
        label = entity.get(key)
        if label is None:
            continue
        covered = [
            i
            for i, t in enumerate(message.tokens)
            if t.start < entity["end"] and t.end > entity["start"]
        ]
        for position, i in enumerate(covered):
            if len(covered) == 1:
                prefix = "U"
            else:
                prefix = "B" if position == 0 else "L" if position == len(covered) - 1 else "I"
            tags[i] = f"{prefix}-{label}"
    return tags


class SequenceTagger:
    """One CRF for one tag kind; trained in memory, saved as a crfsuite file."""

    def __init__(self, kind: str, params: dict[str, Any]) -> None:
        self.kind = kind
        self.params = params
        self.tagger: pycrfsuite.Tagger | None = None
        self.model_bytes = b""

    def train(self, messages: list[Message]) -> bool:
        """Train; False when no example has this kind of tag (nothing to learn)."""
        trainer = pycrfsuite.Trainer(verbose=False)
        seen = False
        for message in messages:
            if not message.tokens:
                continue
            tags = bilou_tags(message, self.kind)
            seen = seen or any(tag != NO_TAG for tag in tags)
            trainer.append(crf_features(message), tags)
        if not seen:
            return False
        trainer.set_params(self.params)
        handle, path = tempfile.mkstemp(suffix=".crfsuite")
        os.close(handle)
        try:
            trainer.train(path)
            with open(path, "rb") as model_file:
                self.open_bytes(model_file.read())
        finally:
            os.unlink(path)
        return True

    def open_bytes(self, model_bytes: bytes) -> None:
        self.model_bytes = model_bytes
        self.tagger = pycrfsuite.Tagger()
        self.tagger.open_inmemory(model_bytes)

    def tag(self, message: Message) -> list[tuple[str, float]]:
        """(tag, marginal probability) per token."""
        if self.tagger is None or not message.tokens:
            return [(NO_TAG, 1.0)] * len(message.tokens)
        self.tagger.set(crf_features(message))
        tags = self.tagger.tag()
        return [(tag, self.tagger.marginal(tag, i)) for i, tag in enumerate(tags)]


def decode_spans(tagged: list[tuple[str, float]]) -> list[tuple[int, int, str, float]]:
    """Token spans (first, last, label, confidence) from BILOU tags, tolerating bad sequences."""
    spans: list[tuple[int, int, str, float]] = []
    current: list[Any] | None = None
    for i, (tag, confidence) in enumerate(tagged):
        prefix, _, label = tag.partition("-")
        if tag == NO_TAG or prefix in ("B", "U") or (current and current[2] != label):
            if current:
                spans.append(tuple(current))  # type: ignore[arg-type]
            current = None
        if tag == NO_TAG:
            continue
        if current is None:
            current = [i, i, label, confidence]
        else:
            current[1] = i
            current[3] = min(current[3], confidence)
        if prefix in ("L", "U"):
            spans.append(tuple(current))  # type: ignore[arg-type]
            current = None
    if current:
        spans.append(tuple(current))  # type: ignore[arg-type]
    return spans


class EntityTagging:
    """Entity CRF plus optional role and group CRFs; turns tags into Rasa entity dicts."""

    def __init__(self, extractor: str, params: dict[str, Any]) -> None:
        self.extractor = extractor
        self.taggers = {kind: SequenceTagger(kind, params) for kind in ("entity", "role", "group")}
        self.trained: list[str] = []

    def train(self, messages: list[Message]) -> None:
        self.trained = [kind for kind, tagger in self.taggers.items() if tagger.train(messages)]

    def persist(self, store: Store) -> dict[str, Any]:
        for kind in self.trained:
            store.path(f"crf_{kind}.crfsuite").write_bytes(self.taggers[kind].model_bytes)
        return {"trained": self.trained}

    def restore(self, state: dict[str, Any], store: Store) -> None:
        self.trained = list(state["trained"])
        for kind in self.trained:
            model_bytes = store.require(f"crf_{kind}.crfsuite").read_bytes()
            try:
                self.taggers[kind].open_bytes(model_bytes)
            except (OSError, ValueError) as exc:
                raise ModelLoadError(f"the {kind} CRF model file is corrupt") from exc

    def extract(self, message: Message) -> list[dict[str, Any]]:
        if "entity" not in self.trained or not message.tokens:
            return []
        entities = [
            self._entity(message, span)
            for span in decode_spans(self.taggers["entity"].tag(message))
        ]
        for kind in ("role", "group"):
            if kind in self.trained:
                self._attach(message, entities, kind)
        return entities

    def _entity(self, message: Message, span: tuple[int, int, str, float]) -> dict[str, Any]:
        first, last, label, confidence = span
        start, end = message.tokens[first].start, message.tokens[last].end
        return {
            "entity": label,
            "start": start,
            "end": end,
            "confidence_entity": round(float(confidence), 6),
            "value": message.text[start:end],
            "extractor": self.extractor,
        }

    def _attach(self, message: Message, entities: list[dict[str, Any]], kind: str) -> None:
        for first, last, label, confidence in decode_spans(self.taggers[kind].tag(message)):
            start, end = message.tokens[first].start, message.tokens[last].end
            for entity in entities:
                if entity["start"] < end and entity["end"] > start:
                    entity[kind] = label
                    entity[f"confidence_{kind}"] = round(float(confidence), 6)


def crf_params(options: dict[str, Any]) -> dict[str, Any]:
    return json.loads(
        json.dumps(
            {
                "c1": float(options.get("L1_c", 0.1)),
                "c2": float(options.get("L2_c", 0.1)),
                "max_iterations": int(options.get("max_iterations", 50)),
                "feature.possible_transitions": True,
            }
        )
    )
