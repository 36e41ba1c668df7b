"""Schemathesis against Rasa's OpenAPI spec and convapi's own schema: never a 5xx, and
no answer the schema does not document beyond the deviations README.md lists.

Every route except those that replace the served model, authenticated with the token,
with a trained initbot served. ``CONVAPI_FUZZ_EXAMPLES`` (per route and per mode: valid,
then invalid requests) and ``CONVAPI_FUZZ_SEED`` (empty: random) are raised by
``bench/fuzz.sh``; CI runs a small, fixed sample.
"""

from __future__ import annotations

import json
import os

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.fuzz.harness import (
    RouteStats,
    convapi_schema,
    fuzz_operation,
    label,
    operations,
    rasa_schema,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("token_auth", "trained_initbot")]

EXAMPLES = int(os.environ.get("CONVAPI_FUZZ_EXAMPLES", "8"))
_seed = os.environ.get("CONVAPI_FUZZ_SEED", "0")
SEED = int(_seed) if _seed else None


@pytest.fixture(autouse=True)
def jobs_answer_at_once(settings) -> None:
    """The jobs these requests submit are never committed (one test transaction): don't wait."""
    settings.CONVAPI_JOB_WAIT_SECONDS = 0.0


def _generated_document() -> dict:
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(document, default=str))


CASES = [("rasa", op) for op in operations(rasa_schema())] + [
    ("convapi", op) for op in operations(convapi_schema(_generated_document()))
]


@pytest.mark.parametrize(
    ("spec", "operation"), CASES, ids=[f"{spec}:{label(op)}" for spec, op in CASES]
)
def test_it_answers_as_its_schema_says(spec, operation, wsgi_app, fuzz_stats):
    """Never a 5xx; every status, content type and body as the schema documents, except
    the documented deviations (harness.DEVIATIONS, README "Where we differ ...")."""
    stats = fuzz_stats.setdefault(f"{spec}: {label(operation)}", RouteStats(spec=spec))
    fuzz_operation(operation, app=wsgi_app, token="rasa", examples=EXAMPLES, stats=stats, seed=SEED)
    assert stats.requests > 0
    assert stats.server_errors == 0, "\n\n".join(stats.reproductions)
    assert stats.unexpected == 0, "\n\n".join(stats.unexpected_samples)
