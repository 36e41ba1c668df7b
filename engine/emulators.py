"""Reshape an NLU result into the formats of Wit, LUIS (v3) and Dialogflow (ES v2).

``/model/parse?emulation_mode=...`` lets clients written for those services keep
their parsing code (API.md 4.15).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

Result = dict[str, Any]


def as_wit(result: Result) -> Result:
    entities: dict[str, list[dict[str, Any]]] = {}
    for entity in result.get("entities") or []:
        name = entity["entity"]
        role = entity.get("role") or name
        start, end = entity.get("start"), entity.get("end")
        entities.setdefault(f"{name}:{role}", []).append(
            {
                "confidence": entity.get("confidence_entity") or 1,
                "name": name,
                "value": entity.get("value"),
                "body": (result.get("text") or "")[start or 0 : end or 0],
                "start": start,
                "end": end,
                "role": role,
                "entities": [],
            }
        )
    return {"text": result.get("text"), "intents": [result.get("intent")], "entities": entities}


def _luis_intents(result: Result) -> dict[str, Any]:
    ranking = result.get("intent_ranking") or ([result["intent"]] if result.get("intent") else [])
    return {item["name"]: {"score": item.get("confidence")} for item in ranking if item.get("name")}


def _luis_entities(result: Result) -> dict[str, Any]:
    entities: dict[str, Any] = {"$instance": {}}
    for entity in result.get("entities") or []:
        # LUIS v3 names entities by role when there is one.
        key = entity.get("role") or entity["entity"]
        start, end = entity.get("start"), entity.get("end")
        entities[key] = [entity.get("value")]
        entities["$instance"][key] = [
            {
                "role": entity.get("role"),
                "type": entity["entity"],
                "text": entity.get("value"),
                "startIndex": start,
                "length": end - start if start is not None and end is not None else None,
                "score": entity.get("confidence"),
                "modelType": entity.get("extractor"),
            }
        ]
    return entities


def as_luis(result: Result) -> Result:
    top = result.get("intent") or {}
    return {
        "query": result.get("text"),
        "prediction": {
            "normalizedQuery": result.get("text"),
            "topIntent": top.get("name"),
            "intents": _luis_intents(result),
            "entities": _luis_entities(result),
        },
    }


def as_dialogflow(result: Result) -> Result:
    parameters: dict[str, list[Any]] = {}
    for entity in result.get("entities") or []:
        parameters.setdefault(entity["entity"], []).append(entity.get("value"))
    intent = result.get("intent") or {}
    return {
        "responseId": str(uuid.uuid1()),
        "queryResult": {
            "queryText": result.get("text"),
            "action": intent.get("name"),
            "parameters": parameters,
            "fulfillmentText": "",
            "fulfillmentMessages": [],
            "outputContexts": [],
            "intent": {"name": intent.get("name"), "displayName": intent.get("name")},
            "intentDetectionConfidence": intent.get("confidence"),
        },
    }


EMULATORS: dict[str, Callable[[Result], Result]] = {
    "wit": as_wit,
    "luis": as_luis,
    "dialogflow": as_dialogflow,
}
