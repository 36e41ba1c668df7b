"""The per-client rate limit of the public channel routes (``CONVAPI_CHANNEL_RATE``).

DRF's ``SimpleRateThrottle`` keeps a list of timestamps that each request reads, changes
and writes back: two workers answering the same client at once both write, and the limit
leaks. Here each client's window is one counter in the cache, created with the window's
lifetime and raised with an atomic increment (Redis ``INCR`` with ``CONVAPI_CACHE_URL``), so
the limit holds in total across workers and hosts. Without a shared cache it holds per
process. A window starts at the client's first request and ends ``duration`` seconds later.
"""

from __future__ import annotations

import logging
import math
import time

from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

logger = logging.getLogger(__name__)


class ChannelRateThrottle(SimpleRateThrottle):
    """``CONVAPI_CHANNEL_RATE`` requests per client address, on the channel routes."""

    scope = "channel"

    def get_rate(self) -> str | None:
        # Read per request, not at import as DRF does: settings may change (tests).
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None:
            return True
        key = self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        try:
            count, started = _window_count(key, self.duration)
        except Exception:  # noqa: BLE001 - a limiter whose store is down lets traffic through
            logger.warning("The rate limit's cache is not reachable; request let through")
            return True
        self.retry_after = max(1, math.ceil(started + self.duration - time.time()))
        return count <= self.num_requests

    def wait(self) -> float:
        return float(self.retry_after)


def _window_count(key: str, duration: int) -> tuple[int, float]:
    """Requests in the client's current window, this one included, and when it started."""
    now = time.time()
    # add() only creates: the first request of a window sets its start and lifetime.
    cache.add(f"{key}:start", now, timeout=duration)
    cache.add(key, 0, timeout=duration)
    try:
        count = cache.incr(key)
    except ValueError:  # the window expired between add() and incr(): a new one
        cache.add(f"{key}:start", now, timeout=duration)
        cache.add(key, 1, timeout=duration)
        count = 1
    return count, float(cache.get(f"{key}:start", now))
