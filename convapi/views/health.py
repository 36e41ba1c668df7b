"""``GET /health``: open to all, 503 naming what is down."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from convapi.health import health_report
from convapi.views.base import PublicView


class HealthView(PublicView):
    def get(self, request: Request) -> Response:
        healthy, report = health_report()
        return Response(report, status=200 if healthy else 503)
