"""The ``Server-Timing`` header (``CONVAPI_SERVER_TIMING``): where each request's time went.

Two middleware, outermost and innermost, so that the chain itself is a stage
("middleware") and so is everything between it and the view's own stages ("view": DRF's
dispatch, authentication, permissions, throttles). The stages inside are marked on the
turn path with ``jobs.stages.stage``; ``bench/turns.py --profile`` reads the header.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from jobs.stages import stage, stages_measured

SERVER_TIMING_HEADER = "Server-Timing"


class ServerTimingMiddleware:
    """First in the chain: times the whole request and writes the header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with stages_measured() as clock:
            with stage("middleware"):
                response = self.get_response(request)
            response[SERVER_TIMING_HEADER] = clock.header()
        return response


class ViewTimingMiddleware:
    """Last in the chain: what runs inside it and outside any finer stage is the view's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with stage("view"):
            return self.get_response(request)
