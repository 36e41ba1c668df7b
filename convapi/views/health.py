"""``GET /health`` and the orchestrator's probes: open to all, 503 naming what is down.

The probes are left out of the OpenAPI schema on purpose: they are for an orchestrator
(README.md, Operating it), not API clients, and ``/health/ready``'s 503 is its answer,
not a server error.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from convapi.health import health_report, readiness_report
from convapi.views.base import PublicView


class HealthView(PublicView):
    def get(self, request: Request) -> Response:
        healthy, report = health_report()
        return Response(report, status=200 if healthy else 503)


@extend_schema(exclude=True)
class LiveView(PublicView):
    """Only that the process answers: an orchestrator restarts a process whose liveness
    fails, and a restart brings no database or worker back."""

    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


@extend_schema(exclude=True)
class ReadyView(PublicView):
    def get(self, request: Request) -> Response:
        ready, report = readiness_report()
        return Response(report, status=200 if ready else 503)
