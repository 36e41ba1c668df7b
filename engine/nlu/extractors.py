"""Rule-based entity extractors: regexes and lookup tables, synonyms, and Duckling over HTTP."""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from engine.nlu.component import Component
from engine.nlu.featurizers import _lookup_pattern
from engine.nlu.message import Message
from engine.nlu.storage import Store
from engine.training_data.nlu import NLUTrainingData

logger = logging.getLogger(__name__)


class RegexEntityExtractor(Component):
    """Entities whose name is a regex or lookup table used in the training annotations."""

    name = "RegexEntityExtractor"
    defaults = {
        "case_sensitive": False,
        "use_lookup_tables": True,
        "use_regexes": True,
        "use_word_boundaries": True,
    }

    def __init__(self, options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self.patterns: list[dict[str, str]] = []

    def train(self, messages: list[Message], data: NLUTrainingData) -> None:
        wanted = data.entities
        if self.options["use_regexes"]:
            self.patterns += [r for r in data.regexes if r["name"] in wanted]
        if self.options["use_lookup_tables"]:
            bounded = bool(self.options["use_word_boundaries"])
            self.patterns += [
                {"name": t["name"], "pattern": _lookup_pattern(t["elements"], bounded)}
                for t in data.lookups
                if t["name"] in wanted
            ]

    def process(self, message: Message) -> None:
        flags = 0 if self.options["case_sensitive"] else re.IGNORECASE
        for pattern in self.patterns:
            for match in re.finditer(pattern["pattern"], message.text, flags):
                if match.end() == match.start():
                    continue
                message.entities.append(
                    {
                        "entity": pattern["name"],
                        "start": match.start(),
                        "end": match.end(),
                        "value": match.group(0),
                        "extractor": self.name,
                    }
                )

    def persist(self, store: Store) -> dict[str, Any]:
        return {"patterns": self.patterns}

    def restore(self, state: dict[str, Any], store: Store) -> None:
        self.patterns = state["patterns"]


class EntitySynonymMapper(Component):
    """Replaces an entity value by its canonical synonym (case-insensitive, as Rasa)."""

    name = "EntitySynonymMapper"
    defaults: dict[str, Any] = {}

    def __init__(self, options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self.synonyms: dict[str, str] = {}

    def train(self, messages: list[Message], data: NLUTrainingData) -> None:
        self.synonyms = dict(data.synonyms)

    def process(self, message: Message) -> None:
        for entity in message.entities:
            canonical = self.synonyms.get(str(entity.get("value")).lower())
            if canonical is not None and canonical != entity["value"]:
                entity["value"] = canonical
                entity.setdefault("processors", []).append(self.name)

    def persist(self, store: Store) -> dict[str, Any]:
        return {"synonyms": self.synonyms}

    def restore(self, state: dict[str, Any], store: Store) -> None:
        self.synonyms = state["synonyms"]


_duckling_warned = False


class DucklingEntityExtractor(Component):
    """Asks a Duckling server; when it cannot be reached, warns once per process and moves on."""

    name = "DucklingEntityExtractor"
    defaults = {"url": None, "dimensions": None, "locale": None, "timezone": None, "timeout": 3}

    def train(self, messages: list[Message], data: NLUTrainingData) -> None:
        """Nothing to learn (Duckling is rule-based)."""

    def process(self, message: Message) -> None:
        if not self.options["url"]:
            return
        matches = self._ask(message.text)
        dimensions = self.options["dimensions"]
        for match in matches:
            if dimensions and match.get("dim") not in dimensions:
                continue
            value = match.get("value", {})
            message.entities.append(
                {
                    "start": match["start"],
                    "end": match["end"],
                    "text": match.get("body", message.text[match["start"] : match["end"]]),
                    "value": value.get("value", value),
                    "confidence": 1.0,
                    "additional_info": value,
                    "entity": match.get("dim"),
                    "extractor": self.name,
                }
            )

    def _ask(self, text: str) -> list[dict[str, Any]]:
        global _duckling_warned
        locale = self.options["locale"] or f"{self.language}_{self.language.upper()}"
        payload = {"text": text, "locale": locale}
        if self.options["timezone"]:
            payload["tz"] = self.options["timezone"]
        url = str(self.options["url"]).rstrip("/") + "/parse"
        body = urllib.parse.urlencode(payload).encode("utf-8")
        try:
            with urllib.request.urlopen(url, data=body, timeout=self.options["timeout"]) as reply:
                return json.loads(reply.read().decode("utf-8"))
        except (OSError, ValueError) as exc:
            if not _duckling_warned:
                _duckling_warned = True
                logger.warning(
                    "Duckling at %s cannot be reached (%s); no entities from it.", url, exc
                )
            return []
