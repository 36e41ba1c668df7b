"""Issuing JWTs that pass Rasa's own check (API.md section 13).

simplejwt signs with the configured secret and method and puts Rasa's claim
``{"user": {"username", "role"}}`` in every token, so tokens it mints and tokens a
backend mints with the same secret are interchangeable. Keys are read from settings
at each use, so one process can be reconfigured (and tested) without restarting.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.parsers import FormParser, JSONParser
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from convapi.auth import JWT_LEEWAY_SECONDS
from engine.errors import conflict


def configured_token_backend() -> TokenBackend:
    method = settings.CONVAPI_JWT_METHOD
    asymmetric = not method.startswith("HS")
    return TokenBackend(
        method,
        signing_key=settings.CONVAPI_JWT_PRIVATE_KEY if asymmetric else settings.CONVAPI_JWT_SECRET,
        verifying_key=settings.CONVAPI_JWT_SECRET if asymmetric else "",
        audience=settings.CONVAPI_JWT_AUDIENCE or None,
        leeway=JWT_LEEWAY_SECONDS,
    )


class RasaAccessToken(AccessToken):
    @property
    def token_backend(self) -> TokenBackend:
        return configured_token_backend()


class RasaRefreshToken(RefreshToken):
    access_token_class = RasaAccessToken

    @property
    def token_backend(self) -> TokenBackend:
        return configured_token_backend()


def rasa_role(user: Any) -> str:
    return "admin" if user.is_staff else "user"


class RasaTokenObtainPairSerializer(TokenObtainPairSerializer):
    token_class = RasaRefreshToken

    @classmethod
    def get_token(cls, user):
        token = super().get_token(user)
        token["user"] = {"username": user.get_username(), "role": rasa_role(user)}
        return token


class RasaTokenRefreshSerializer(TokenRefreshSerializer):
    token_class = RasaRefreshToken


def require_jwt_configured() -> None:
    method = settings.CONVAPI_JWT_METHOD
    key = (
        settings.CONVAPI_JWT_SECRET if method.startswith("HS") else settings.CONVAPI_JWT_PRIVATE_KEY
    )
    if not key:
        raise conflict(
            "Issuing JWTs needs CONVAPI_JWT_SECRET (HS*) or CONVAPI_JWT_PRIVATE_KEY (RS*/ES*).",
        )


class _Unguarded:
    authentication_classes: list = []
    permission_classes: list = []
    parser_classes = [JSONParser, FormParser]

    def post(self, request, *args, **kwargs):
        require_jwt_configured()
        return super().post(request, *args, **kwargs)


class TokenView(_Unguarded, TokenObtainPairView):
    """``POST /auth/token``: username and password of a Django user → access + refresh."""

    serializer_class = RasaTokenObtainPairSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        # django-axes marks lockouts on Django's request, not on DRF's wrapper.
        return {**super().get_serializer_context(), "request": self.request._request}


class RefreshView(_Unguarded, TokenRefreshView):
    """``POST /auth/refresh``: a refresh token → a new access token."""

    serializer_class = RasaTokenRefreshSerializer
