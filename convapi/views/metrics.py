"""``GET /metrics``: Prometheus' scrape target, for an admin or the metrics token only.

Left out of the OpenAPI schema on purpose: its body is Prometheus' text exposition
format for a scraper, not an answer of the API, and its names are listed in README.md.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from convapi.auth import auth_config, authorize, bearer_token
from engine.errors import not_authenticated
from jobs.metrics import metrics_page


def authorize_metrics(*, query_token: str | None, authorization: str, metrics_token: str) -> None:
    """Raise 401/403 unless the caller holds the metrics token or is an admin of the API.

    Admin as the API's auth decides it (the server token, or a JWT with the admin role),
    open when the API is; but a metrics token, once set, closes an open API's metrics.
    """
    if metrics_token:
        given = bearer_token(authorization) or ""
        if hmac.compare_digest(given.encode(), metrics_token.encode()):
            return
        config = auth_config()
        if not config.token and not config.jwt_enabled:
            raise not_authenticated()
    # No conversation: a user's JWT, good only for its own conversation, is refused (403).
    authorize(query_token=query_token, authorization=authorization, conversation_id=None)


class MetricsAuth(BasePermission):
    def has_permission(self, request, view) -> bool:
        authorize_metrics(
            query_token=request.query_params.get("token"),
            authorization=request.headers.get("Authorization", ""),
            metrics_token=settings.CONVAPI_METRICS_TOKEN,
        )
        return True


@extend_schema(exclude=True)
class MetricsView(APIView):
    permission_classes = [MetricsAuth]

    def get(self, request: Request) -> HttpResponse:
        body, content_type = metrics_page()
        return HttpResponse(body, content_type=content_type)
