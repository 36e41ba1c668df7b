"""The bot's domain (``domain.yml`` or a ``domain/`` folder), read as Rasa 3.x reads it.

``as_dict`` gives what Rasa 3.6 serves on ``GET /domain``: the domain files' own
content (merged when there are several) plus Rasa's defaults for ``version`` and
``session_config``, with intents sorted and empty sections left out. The derived
views (default intents and actions, action order, slot defaults) follow API.md
section 11 because prediction scores are indexed by that action order.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from engine.config import read_yaml
from engine.errors import InvalidDomainError
from engine.slots import Slot, default_slots, parse_slots
from engine.yaml_text import DoubleQuoted, dump_yaml

DEFAULT_INTENTS = ("restart", "back", "out_of_scope", "session_start", "nlu_fallback")
DEFAULT_ACTIONS = (
    "action_listen",
    "action_restart",
    "action_session_start",
    "action_default_fallback",
    "action_deactivate_loop",
    "action_revert_fallback_events",
    "action_default_ask_affirmation",
    "action_default_ask_rephrase",
    "action_two_stage_fallback",
    "action_unlikely_intent",
    "action_back",
    "action_send_text",
    "...",
    "action_extract_slots",
)
LATEST_FORMAT_VERSION = "3.1"
DEFAULT_SESSION_EXPIRATION = 60
SECTION_ORDER = (
    "version",
    "intents",
    "entities",
    "slots",
    "responses",
    "actions",
    "forms",
    "e2e_actions",
    "session_config",
    "config",
)
_LIST_SECTIONS = ("intents", "entities", "actions", "e2e_actions")
_DICT_SECTIONS = ("slots", "responses", "forms", "session_config", "config")


class Domain:
    """Intents, entities, slots, responses, actions and forms of one bot."""

    def __init__(self, data: dict, *, source: str | None = None) -> None:
        self.source = source
        self._data = data
        self.intent_properties = _parse_intents(data.get("intents"), source)
        self.entities, self.entity_roles, self.entity_groups = _parse_entities(
            data.get("entities"), source
        )
        self.responses: dict[str, list[dict]] = _parse_responses(data.get("responses"), source)
        self.forms: dict[str, dict] = _parse_forms(data.get("forms"), source)
        user_slots = parse_slots(data.get("slots"), source)
        declared = {slot.name for slot in user_slots}
        self.slots: list[Slot] = user_slots + default_slots(bool(self.forms), declared)
        self._check_forms(declared)
        self._custom_actions, self.actions_which_need_domain = _parse_actions(
            data.get("actions"), source
        )
        self.action_texts: list[str] = _string_list(data.get("e2e_actions"), source, "e2e_actions")
        self.session_expiration_time, self.carry_over_slots = _parse_session_config(
            data.get("session_config"), source
        )
        self.store_entities_as_slots = _parse_config(data.get("config"), source)
        self._add_used_entities()

    # -- loading --------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Domain:
        """Read ``domain.yml`` or every YAML file under a ``domain/`` folder (merged)."""
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml"))
            if not files:
                raise InvalidDomainError("no domain files (.yml) found.", file=str(path))
            merged: dict = {}
            for file in files:
                _merge_into(merged, _read_yaml(file.read_text(encoding="utf-8"), str(file)))
            return cls.from_dict(merged, source=str(path))
        if not path.exists():
            raise InvalidDomainError("the domain file does not exist.", file=str(path))
        return cls.from_yaml(path.read_text(encoding="utf-8"), source=str(path))

    @classmethod
    def from_yaml(cls, text: str, *, source: str | None = None) -> Domain:
        return cls.from_dict(_read_yaml(text, source), source=source)

    @classmethod
    def from_dict(cls, data: dict, *, source: str | None = None) -> Domain:
        if not isinstance(data, dict):
            raise InvalidDomainError("a domain must be a mapping of sections.", file=source)
        for key in _LIST_SECTIONS:
            if data.get(key) is not None and not isinstance(data[key], list):
                raise InvalidDomainError("must be a list.", file=source, key=key)
        for key in _DICT_SECTIONS:
            if data.get(key) is not None and not isinstance(data[key], dict):
                raise InvalidDomainError("must be a mapping.", file=source, key=key)
        return cls(copy.deepcopy(data), source=source)

    @classmethod
    def empty(cls) -> Domain:
        return cls.from_dict({})

    # -- derived views ------------------------------------------------------------
    @property
    def intents(self) -> list[str]:
        """Every intent, default intents included, sorted (Rasa's order)."""
        return sorted(self.intent_properties)

    @property
    def user_intents(self) -> list[str]:
        return sorted(name for name in self.intent_properties if name not in DEFAULT_INTENTS)

    @property
    def retrieval_intents(self) -> list[str]:
        flagged = {n for n, p in self.intent_properties.items() if p.get("is_retrieval_intent")}
        flagged.update(
            name.split("/", 1)[0][len("utter_") :]
            for name in self.responses
            if name.startswith("utter_") and "/" in name
        )
        return sorted(flagged & set(self.intent_properties))

    @property
    def user_actions(self) -> list[str]:
        """Custom actions in file order, then response actions not listed, sorted."""
        utters = [
            a for a in sorted(self.responses) if "utter_" in a and a not in self._custom_actions
        ]
        return self._custom_actions + utters

    @property
    def form_names(self) -> list[str]:
        return list(self.forms)

    @property
    def action_names_or_texts(self) -> list[str]:
        """Every action in prediction order (API.md section 11)."""
        user = [a for a in self.user_actions if a not in DEFAULT_ACTIONS]
        forms = [f for f in self.forms if f not in self._custom_actions and f not in user]
        return list(DEFAULT_ACTIONS) + user + forms + self.action_texts

    @property
    def slot_names(self) -> list[str]:
        return [slot.name for slot in self.slots]

    def slot(self, name: str) -> Slot | None:
        return next((slot for slot in self.slots if slot.name == name), None)

    def slot_defaults(self) -> dict[str, Any]:
        """Initial value of every slot a tracker of this domain has."""
        return {slot.name: copy.deepcopy(slot.initial_value) for slot in self.slots}

    def required_slots(self, form_name: str) -> list[str]:
        return list(self.forms.get(form_name, {}).get("required_slots", []))

    def used_entities(self, intent: str) -> list[str]:
        return list(self.intent_properties.get(intent, {}).get("used_entities", []))

    # -- serialisation -------------------------------------------------------------
    def as_dict(self) -> dict:
        """Rasa 3.6's ``/domain`` JSON: a new top-level dict each time; the values inside
        are built once and shared (every custom action call sends them), never to change."""
        return dict(self._as_dict)

    @functools.cached_property
    def _as_dict(self) -> dict:
        data = copy.deepcopy(self._data)
        data.setdefault("version", LATEST_FORMAT_VERSION)
        data.setdefault(
            "session_config",
            {
                "session_expiration_time": self.session_expiration_time,
                "carry_over_slots_to_new_session": self.carry_over_slots,
            },
        )
        if "config" not in data and not self.store_entities_as_slots:
            data["config"] = {"store_entities_as_slots": False}
        if data.get("intents"):
            data["intents"] = _sorted_file_intents(data["intents"])
        ordered = {key: data[key] for key in SECTION_ORDER if key in data}
        ordered.update({k: v for k, v in data.items() if k not in ordered})
        return {k: v for k, v in ordered.items() if v not in (None, [], {}) or k == "version"}

    def as_yaml(self) -> str:
        data = self.as_dict()
        data["version"] = DoubleQuoted(str(data["version"]))
        return dump_yaml(data)

    def fingerprint(self) -> str:
        """A hash that changes exactly when the domain's content changes."""
        text = json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    # -- consistency -----------------------------------------------------------------
    def _check_forms(self, declared: set[str]) -> None:
        for name, form in self.forms.items():
            for slot in form.get("required_slots", []):
                if slot not in declared:
                    raise InvalidDomainError(
                        f"form '{name}' requires slot '{slot}', which is not defined in 'slots'.",
                        file=self.source,
                        key=f"forms.{name}.required_slots",
                    )

    def _add_used_entities(self) -> None:
        for props in self.intent_properties.values():
            use = props.pop("use_entities", True)
            ignore = props.pop("ignore_entities", []) or []
            if use is True or use is None:
                used = [e for e in self.entities if e not in ignore]
            else:
                used = [e for e in (use or []) if e in self.entities]
            props["used_entities"] = used


def _read_yaml(text: str, source: str | None) -> dict:
    data = read_yaml(text, source=source, error=InvalidDomainError)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidDomainError("a domain file must be a mapping of sections.", file=source)
    return data


def _merge_into(merged: dict, data: dict) -> None:
    """Merge one domain file into the others: lists are joined, mappings combined."""
    for key, value in data.items():
        current = merged.get(key)
        if isinstance(current, list) and isinstance(value, list):
            merged[key] = current + [item for item in value if item not in current]
        elif isinstance(current, dict) and isinstance(value, dict):
            merged[key] = {**value, **current}
        elif current is None:
            merged[key] = value


def _parse_intents(raw: Any, source: str | None) -> dict[str, dict]:
    properties: dict[str, dict] = {}
    for index, item in enumerate(raw or []):
        if isinstance(item, str):
            properties[item] = {}
        elif isinstance(item, dict) and len(item) == 1:
            name, props = next(iter(item.items()))
            if props is not None and not isinstance(props, dict):
                raise InvalidDomainError(
                    "intent properties must be a mapping.", file=source, key=f"intents.{name}"
                )
            properties[str(name)] = dict(props or {})
            _check_entity_lists(properties[str(name)], source, f"intents.{name}")
        else:
            raise InvalidDomainError(
                f"item {index} is not an intent name.", file=source, key="intents"
            )
    for name in DEFAULT_INTENTS:
        properties.setdefault(name, {})
    return properties


def _check_entity_lists(props: dict, source: str | None, key: str) -> None:
    use = props.get("use_entities", True)
    if not (isinstance(use, bool) or use is None or isinstance(use, list)):
        raise InvalidDomainError(
            "must be true, false or a list of entities.", file=source, key=f"{key}.use_entities"
        )
    if use is False:
        props["use_entities"] = []
    if not isinstance(props.get("ignore_entities", []) or [], list):
        raise InvalidDomainError(
            "must be a list of entities.", file=source, key=f"{key}.ignore_entities"
        )


def _parse_entities(raw: Any, source: str | None) -> tuple[list[str], dict, dict]:
    names: list[str] = []
    roles: dict[str, list[str]] = {}
    groups: dict[str, list[str]] = {}
    for item in raw or []:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and len(item) == 1:
            name, props = next(iter(item.items()))
            props = props or {}
            if not isinstance(props, dict):
                raise InvalidDomainError(
                    "must be a mapping with roles/groups.", file=source, key=f"entities.{name}"
                )
            names.append(str(name))
            if props.get("roles"):
                roles[str(name)] = list(props["roles"])
            if props.get("groups"):
                groups[str(name)] = list(props["groups"])
        else:
            raise InvalidDomainError(
                f"{item!r} is not an entity name.", file=source, key="entities"
            )
    return names, roles, groups


def _parse_responses(raw: Any, source: str | None) -> dict[str, list[dict]]:
    responses: dict[str, list[dict]] = {}
    for name, variations in (raw or {}).items():
        key = f"responses.{name}"
        if not isinstance(variations, list) or not all(isinstance(v, dict) for v in variations):
            raise InvalidDomainError(
                "a response must be a list of variations (mappings).", file=source, key=key
            )
        for variation in variations:
            if not any(
                k in variation
                for k in (
                    "text",
                    "custom",
                    "image",
                    "buttons",
                    "attachment",
                    "elements",
                    "quick_replies",
                )
            ):
                raise InvalidDomainError(
                    "a variation needs 'text', 'custom', 'image' or 'buttons'.",
                    file=source,
                    key=key,
                )
        responses[str(name)] = variations
    return responses


def _parse_forms(raw: Any, source: str | None) -> dict[str, dict]:
    forms: dict[str, dict] = {}
    for name, spec in (raw or {}).items():
        key = f"forms.{name}"
        spec = spec or {}
        if not isinstance(spec, dict):
            raise InvalidDomainError("a form must be a mapping.", file=source, key=key)
        required = spec.get("required_slots", [])
        if not isinstance(required, list):
            raise InvalidDomainError(
                "must be a list of slot names (Rasa 3 moved slot mappings to 'slots').",
                file=source,
                key=f"{key}.required_slots",
            )
        ignored = spec.get("ignored_intents", [])
        ignored = [ignored] if isinstance(ignored, str) else list(ignored or [])
        forms[str(name)] = {
            **spec,
            "required_slots": [str(s) for s in required],
            "ignored_intents": ignored,
        }
    return forms


def _parse_actions(raw: Any, source: str | None) -> tuple[list[str], list[str]]:
    names: list[str] = []
    need_domain: list[str] = []
    for item in raw or []:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and len(item) == 1:
            name, props = next(iter(item.items()))
            names.append(str(name))
            if isinstance(props, dict) and props.get("send_domain"):
                need_domain.append(str(name))
        else:
            raise InvalidDomainError(f"{item!r} is not an action name.", file=source, key="actions")
    return list(dict.fromkeys(names)), need_domain


def _string_list(raw: Any, source: str | None, key: str) -> list[str]:
    if raw is None:
        return []
    if not all(isinstance(item, str) for item in raw):
        raise InvalidDomainError("must be a list of strings.", file=source, key=key)
    return list(raw)


def _parse_session_config(raw: Any, source: str | None) -> tuple[float, bool]:
    raw = raw or {}
    expiration = raw.get("session_expiration_time", DEFAULT_SESSION_EXPIRATION)
    if expiration is None:
        expiration = DEFAULT_SESSION_EXPIRATION
    if isinstance(expiration, bool) or not isinstance(expiration, (int, float)) or expiration < 0:
        raise InvalidDomainError(
            "must be a number of minutes (0 disables sessions).",
            file=source,
            key="session_config.session_expiration_time",
        )
    carry = raw.get("carry_over_slots_to_new_session", True)
    if not isinstance(carry, bool):
        raise InvalidDomainError(
            "must be true or false.",
            file=source,
            key="session_config.carry_over_slots_to_new_session",
        )
    return expiration, carry


def _parse_config(raw: Any, source: str | None) -> bool:
    value = (raw or {}).get("store_entities_as_slots", True)
    if not isinstance(value, bool):
        raise InvalidDomainError(
            "must be true or false.", file=source, key="config.store_entities_as_slots"
        )
    return value


def _sorted_file_intents(intents: list) -> list:
    def name(item: Any) -> str:
        return str(next(iter(item))) if isinstance(item, dict) else str(item)

    return sorted((i for i in intents if name(i) not in DEFAULT_INTENTS), key=name)
