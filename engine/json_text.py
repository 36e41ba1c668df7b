"""JSON documents written fast: what the store writes and what an action server is sent."""

from __future__ import annotations

import json
from typing import Any

import orjson


def json_text(value: Any) -> str:
    """``json.dumps``'s document, several times faster (orjson), without its spaces; NaN
    and infinities, which PostgreSQL's jsonb refuses, as null; json for what orjson
    refuses (integers over 64 bits, numpy floats)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)
