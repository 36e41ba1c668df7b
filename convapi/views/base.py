"""What every view shares: the auth split (conversation ids are checked by their converter)."""

from __future__ import annotations

from rest_framework.views import APIView

from convapi.auth import RasaAuth


class PublicView(APIView):
    """Never authenticated (``GET /``, ``/version``, the channel webhooks)."""

    permission_classes: list = []


class GuardedView(APIView):
    """Token or JWT as API.md section 3 says; the conversation id scopes user JWTs."""

    permission_classes = [RasaAuth]
