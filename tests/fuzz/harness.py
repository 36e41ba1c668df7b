"""Schemathesis cases sent in-process to the WSGI app, counted per route.

The CI test and ``bench/fuzz.sh`` share this: each operation gets a bounded number of
generated requests (valid and invalid ones), every response is counted, 5xx answers keep
a curl line to reproduce them, and schema mismatches are counted by kind.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
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
    requests: int = 0
    server_errors: int = 0
    mismatches: int = 0
    mismatch_kinds: Counter = field(default_factory=Counter)
    mismatch_samples: dict[str, str] = field(default_factory=dict)
    reproductions: list[str] = field(default_factory=list)

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
        }
        for route, s in sorted(stats.items())
    }
    path.write_text(json.dumps(rows, indent=2))
