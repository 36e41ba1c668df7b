"""Schemathesis cases sent in-process to the WSGI app, counted per route.

The CI test and ``bench/fuzz.sh`` share this: each operation gets a bounded number of
generated requests (valid and invalid ones), every response is counted, 5xx answers keep
a curl line to reproduce them, and schema mismatches are counted by kind.
"""

from __future__ import annotations

import copy
import functools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.openapi.checks import JsonSchemaError, UndefinedContentType, UndefinedStatusCode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ROOT

RASA_SPEC = ROOT.parent / "shared" / "reference" / "rasa-openapi.yml"
# The routes that replace the served model are left out: a fuzzer loading or deleting
# models would test nothing but the next request's 409.
MODEL_REPLACING = {("PUT", "/model"), ("DELETE", "/model"), ("POST", "/model/train")}
MISMATCH_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
KEPT_REPRODUCTIONS = 3
# Random ids name conversations that do not exist (404); half the cases that take a
# conversation id get one of these instead, so the fuzzer also reaches stored histories.
KNOWN_CONVERSATIONS = ["fuzz-alice", "fuzz-bob"]


@dataclass
class RouteStats:
    """Counts for one route. ``spec`` ("rasa" or "convapi") says which schema it is checked
    against; a mismatch is ``documented`` when a DEVIATIONS entry explains it, else it is
    ``unexpected`` (and fails the CI test)."""

    spec: str = ""
    requests: int = 0
    server_errors: int = 0
    mismatches: int = 0
    mismatch_kinds: Counter = field(default_factory=Counter)
    mismatch_samples: dict[str, str] = field(default_factory=dict)
    reproductions: list[str] = field(default_factory=list)
    documented: Counter = field(default_factory=Counter)
    unexpected: int = 0
    unexpected_samples: list[str] = field(default_factory=list)

    def record(self, case: Any, response: Any) -> None:
        self.requests += 1
        if response.status_code >= 500:
            self.server_errors += 1
            if len(self.reproductions) < KEPT_REPRODUCTIONS:
                self.reproductions.append(_reproduction(case, response))
            return
        try:
            case.validate_response(response, checks=MISMATCH_CHECKS)
        except (FailureGroup, Exception) as exc:  # any failed check is one mismatch
            self.mismatches += 1
            for failure in _failures(exc):
                kind = _kind(failure)
                self.mismatch_kinds[kind] += 1
                self.mismatch_samples.setdefault(kind, str(failure)[:600])
                deviation = documented_deviation(self.spec, case, response, failure)
                if deviation is not None:
                    self.documented[deviation.why] += 1
                    continue
                self.unexpected += 1
                if len(self.unexpected_samples) < KEPT_REPRODUCTIONS:
                    self.unexpected_samples.append(
                        f"{kind} (status {response.status_code})\n{str(failure)[:800]}\n"
                        f"{_reproduction(case, response)}"
                    )


# -- The documented deviations -------------------------------------------------------------
#
# Each entry is one point of README.md "Where we differ from Rasa's OpenAPI spec" (or, for
# convapi's own schema, the note right after it), matched narrowly: the spec, the routes,
# the response statuses, the check that failed and, for the body schema, the field (the
# instance path, "*" for any list index) and what that field holds. Anything else a check
# reports is an unexpected mismatch and fails tests/fuzz/test_schemathesis.py.

CONVERSATION = "/conversations/{conversation_id}"
# Routes whose 200 answer is a tracker (at the top level, or under "tracker" for predict).
TRACKER_ROUTES = frozenset(
    f"{method} {CONVERSATION}{suffix}"
    for method, suffix in [
        ("GET", "/tracker"),
        ("POST", "/tracker/events"),
        ("PUT", "/tracker/events"),
        ("POST", "/messages"),
    ]
) | {"POST /model/predict"}
TRACKER_IN_BODY = frozenset({f"POST {CONVERSATION}/predict", "POST /model/predict"})
EVERY_RASA_ROUTE = None  # matches any route of Rasa's spec


def _null(value: Any) -> bool:
    return value is None


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _intent_without_confidence(value: Any) -> bool:
    return isinstance(value, dict) and "confidence" not in value


def _event_with_documented_deviations(event: Any) -> bool:
    """An event the spec's ``Event`` refuses only for documented reasons: with those
    repaired (README: a float timestamp, a null ``text`` or ``action_text``, an intent
    without confidence, entity values that are not strings), it validates. Anything
    else wrong with the event keeps it refused."""
    if not isinstance(event, dict):
        return False
    repaired = copy.deepcopy(event)
    # Counted, not compared: 2672 == 2672.0 in Python, so a float timestamp that is a
    # whole number would look unrepaired.
    repairs = 0
    if isinstance(repaired.get("timestamp"), float):
        repaired["timestamp"] = int(repaired["timestamp"])
        repairs += 1
    for key in ("text", "action_text"):
        if key in repaired and repaired[key] is None:
            repaired[key] = ""
            repairs += 1
    parse_data = repaired.get("parse_data")
    if isinstance(parse_data, dict):
        if "text" in parse_data and parse_data["text"] is None:
            parse_data["text"] = ""
            repairs += 1
        intent = parse_data.get("intent")
        if isinstance(intent, dict) and "confidence" not in intent:
            intent.setdefault("name", "")
            intent["confidence"] = 0.0
            repairs += 1
        for entity in parse_data.get("entities") or []:
            if isinstance(entity, dict) and not isinstance(entity.get("value"), str):
                entity["value"] = json.dumps(entity.get("value"))
                repairs += 1
    if not repairs:
        return False  # nothing documented about it: its refusal is unexpected
    return _rasa_event_validator().is_valid(repaired)


@functools.cache
def _rasa_event_validator() -> Any:
    import jsonschema_rs
    import yaml

    spec = yaml.safe_load(RASA_SPEC.read_text())
    return jsonschema_rs.Draft4Validator(
        {"$ref": "#/components/schemas/Event", "components": _nullable(spec["components"])}
    )


def _nullable(schema: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema (as schemathesis reads it)."""
    if isinstance(schema, list):
        return [_nullable(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: _nullable(value) for key, value in schema.items() if key != "nullable"}
    if not schema.get("nullable"):
        return converted
    if "enum" in converted:
        converted["enum"] = [*converted["enum"], None]
    if isinstance(converted.get("type"), str):
        converted["type"] = [converted["type"], "null"]
        return converted
    return {"anyOf": [converted, {"type": "null"}]}


def _emulated(case: Any) -> bool:
    mode = (case.query or {}).get("emulation_mode")
    return isinstance(mode, str) and mode.lower() in ("wit", "luis", "dialogflow")


@dataclass(frozen=True)
class Deviation:
    why: str
    spec: str
    check: str  # "status", "content_type" or "schema"
    statuses: frozenset[int]
    routes: frozenset[str] | None  # "METHOD /path" as in the spec; None: every route
    field: str = ""  # schema: the instance path; content_type: the media type
    holds: Callable[[Any], bool] | None = None  # schema: a test of the field's value
    when: Callable[[Any], bool] | None = None  # a test of the request (the case)

    def matches(self, spec: str, case: Any, status: int, found: tuple[str, str, Any]) -> bool:
        check, where, value = found
        route = f"{case.operation.method.upper()} {case.operation.path}"
        return (
            spec == self.spec
            and check == self.check
            and status in self.statuses
            and (self.routes is None or route in self.routes)
            and where == self.field
            and (self.holds is None or self.holds(value))
            and (self.when is None or self.when(case))
        )


def _tracker_fields(field_name: str, holds: Callable[[Any], bool], why: str) -> list[Deviation]:
    """One tracker field's deviation, at the top level and under ``tracker``."""
    return [
        Deviation(why, "rasa", "schema", frozenset({200}), TRACKER_ROUTES - TRACKER_IN_BODY,
                  f"/{field_name}", holds),
        Deviation(why, "rasa", "schema", frozenset({200}), TRACKER_IN_BODY,
                  f"/tracker/{field_name}", holds),
    ]  # fmt: skip


CLIENT_ERRORS = frozenset(range(400, 500))
JOB_ROUTES = frozenset(
    {"POST /model/train", "POST /model/test/stories", "POST /model/test/intents"}
)
NULL_WHEN_UNSET = "tracker fields are null while unset, events null with include_events=NONE"
DEVIATIONS: list[Deviation] = [
    # README: error bodies carry "help": null (the spec says a string).
    Deviation("error bodies carry help: null", "rasa", "schema", CLIENT_ERRORS,
              EVERY_RASA_ROUTE, "/help", _null),
    # README: 404 for unknown conversations on /story, /predict, /execute, and 404 NotFound
    # for an unknown intent (/trigger_intent) or action (/execute): undocumented in the spec.
    Deviation("404 for unknown conversations, intents and actions", "rasa", "status",
              frozenset({404}),
              frozenset(f"{m} {CONVERSATION}{s}" for m, s in [
                  ("GET", "/story"), ("POST", "/predict"), ("POST", "/execute"),
                  ("POST", "/trigger_intent")])),
    # README: GET /story answers text/plain (the spec says text/yml).
    Deviation("GET /story answers text/plain", "rasa", "content_type", frozenset({200}),
              frozenset({f"GET {CONVERSATION}/story"}), "text/plain"),
    # README: latest_message.text and user events' text may be null, action events carry
    # action_text: null; an intent may have no confidence; entity values need not be strings.
    *_tracker_fields("latest_message/text", _null, "latest_message.text may be null"),
    *_tracker_fields("latest_message/intent", _intent_without_confidence,
                     "an intent may have no confidence"),
    # README: event timestamps are floats (the spec's BasicEvent says integer).
    *_tracker_fields("events/*", _event_with_documented_deviations,
                     "events: float timestamps, null text/action_text, intents without "
                     "confidence, entity values that are not strings"),
    # README: tracker slots is an object of slot name to value (the spec says an array).
    *_tracker_fields("slots", _is_object, "tracker slots is an object"),
    # README: followup_action, latest_event_time, latest_input_channel, latest_action_name
    # are null while unset, and events is null with include_events=NONE.
    *_tracker_fields("followup_action", _null, NULL_WHEN_UNSET),
    *_tracker_fields("latest_event_time", _null, NULL_WHEN_UNSET),
    *_tracker_fields("latest_input_channel", _null, NULL_WHEN_UNSET),
    *_tracker_fields("latest_action_name", _null, NULL_WHEN_UNSET),
    *_tracker_fields("events", _null, NULL_WHEN_UNSET),
    # README: POST /model/parse?emulation_mode=wit|luis|dialogflow answers in the emulated
    # service's format, not ParseResult (only for those requests).
    *(
        Deviation("emulation_mode answers in the emulated format", "rasa", "schema",
                  frozenset({200}), frozenset({"POST /model/parse"}), where, when=_emulated)
        for where in ("/", "/entities", "/intent", "/text")
    ),
    # README: the errors items of /model/test/intents reports match several of the spec's
    # oneOf alternatives at once (none has required fields).
    Deviation("test/intents errors items match several oneOf alternatives", "rasa", "schema",
              frozenset({200}), frozenset({"POST /model/test/intents"}),
              "/intent_evaluation/errors/*", _is_object),
    # README: the test reports follow API.md 4.11-4.15: /model/test/stories answers
    # report.accuracy and each action's confidence as numbers (the spec: object, string).
    Deviation("test/stories report numbers (API.md 4.13)", "rasa", "schema",
              frozenset({200}), frozenset({"POST /model/test/stories"}), "/report/accuracy",
              _is_number),
    Deviation("test/stories report numbers (API.md 4.13)", "rasa", "schema",
              frozenset({200}), frozenset({"POST /model/test/stories"}), "/actions/*/confidence",
              _is_number),
    # README (Jobs): a training or test still running after CONVAPI_JOB_WAIT_SECONDS
    # answers 202 with its job and Location. The fuzz test waits 0 s: its requests run in
    # one open transaction, where no job row is ever committed for a worker to see.
    *(
        Deviation("a job still running answers 202 + Location", spec_name, "status",
                  frozenset({202}), JOB_ROUTES)
        for spec_name in ("rasa", "convapi")
    ),
    # convapi's own schema (drf-spectacular) documents only the 200 answers of its routes,
    # so each of their 4xx is "Undocumented status code" (README, after the list above).
    # README: the token routes (simplejwt's views) do not document their 401 for wrong
    # credentials or an invalid refresh token.
    *(
        Deviation("the token routes' 401 is undocumented", "convapi", "status",
                  frozenset(statuses), frozenset({route}))
        for route, statuses in [
            ("POST /auth/token", {401}),
            ("POST /auth/refresh", {401}),
        ]
    ),
]  # fmt: skip


def documented_deviation(spec: str, case: Any, response: Any, failure: Any) -> Deviation | None:
    """The DEVIATIONS entry that explains this failed check, if any."""
    found = _what_failed(failure)
    if found is None:
        return None
    for deviation in DEVIATIONS:
        if deviation.matches(spec, case, response.status_code, found):
            return deviation
    return None


def _what_failed(failure: Any) -> tuple[str, str, Any] | None:
    """(check, where, value) of a status, content-type or body-schema failure."""
    if isinstance(failure, UndefinedStatusCode):
        return ("status", "", failure.status_code)
    if isinstance(failure, UndefinedContentType):
        return ("content_type", failure.content_type.split(";")[0].strip(), None)
    if isinstance(failure, JsonSchemaError):
        path = "/".join("*" if isinstance(p, int) else str(p) for p in failure.instance_path)
        return ("schema", f"/{path}", failure.instance)
    return None  # a malformed body, a missing content type, ...: never documented


def rasa_schema() -> Any:
    return _without_model_replacing(schemathesis.openapi.from_path(RASA_SPEC))


def convapi_schema(document: dict[str, Any]) -> Any:
    """convapi's generated schema, minus the operations Rasa's spec already covers."""
    rasa_ops = {(op.method.upper(), op.path) for op in _operations(rasa_schema())}
    paths = {}
    for path, operations in document["paths"].items():
        kept = {m: op for m, op in operations.items() if (m.upper(), path) not in rasa_ops}
        if kept:
            paths[path] = kept
    return _without_model_replacing(schemathesis.openapi.from_dict({**document, "paths": paths}))


def operations(schema: Any) -> list[Any]:
    return sorted(_operations(schema), key=label)


def label(operation: Any) -> str:
    return f"{operation.method.upper()} {operation.path}"


def fuzz_operation(
    operation: Any, *, app: Any, token: str, examples: int, stats: RouteStats, seed: int | None
) -> None:
    """Send ``examples`` valid and ``examples`` invalid generated requests to ``app``."""
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategy = operation.as_strategy(generation_mode=mode)

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=seed is not None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy, known=st.sampled_from([None, *KNOWN_CONVERSATIONS]))
        def send(case: Any, known: str | None) -> None:
            if known and "conversation_id" in (case.path_parameters or {}):
                case.path_parameters = {**case.path_parameters, "conversation_id": known}
            case.query = {**(case.query or {}), "token": token}
            stats.record(case, case.call(app=app))

        try:
            send()
        except Unsatisfiable:
            # Nothing to negate (no parameters, no body): the valid cases covered it.
            continue


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def _without_model_replacing(schema: Any) -> Any:
    for method, path in MODEL_REPLACING:
        schema = schema.exclude(method=method, path=path)
    return schema


def _kind(failure: BaseException) -> str:
    """What differs, without the instance's details: the status, or the field's path."""
    title = getattr(failure, "title", type(failure).__name__)
    status = getattr(failure, "status_code", None)
    path = getattr(failure, "instance_path", None)
    if path is not None:
        where = "/".join("*" if isinstance(part, int) else str(part) for part in path)
        return f"{title} at /{where}"
    return f"{title} {status}" if status is not None else title


def _failures(exc: BaseException) -> list[BaseException]:
    return list(getattr(exc, "exceptions", None) or [exc])


def _reproduction(case: Any, response: Any) -> str:
    try:
        body = json.dumps(response.json())[:300]
    except ValueError:
        body = response.text[:300]
    curl = case.as_curl_command()
    curl = curl if len(curl) <= 1500 else curl[:1500] + "...(cut)"
    return f"{curl}\n    -> {response.status_code} {body}"


def write_report(path: Path, stats: dict[str, RouteStats]) -> None:
    rows = {
        route: {
            "requests": s.requests,
            "server_errors": s.server_errors,
            "mismatches": s.mismatches,
            "mismatch_kinds": dict(s.mismatch_kinds),
            "mismatch_samples": s.mismatch_samples,
            "reproductions": s.reproductions,
            "documented": dict(s.documented),
            "unexpected": s.unexpected,
            "unexpected_samples": s.unexpected_samples,
        }
        for route, s in sorted(stats.items())
    }
    path.write_text(json.dumps(rows, indent=2))
