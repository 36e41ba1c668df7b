"""Rasa's auth decision (API.md section 3): a query token, or a JWT with a role claim.

The procedure is applied in Rasa's order: token, then JWT with scope check, then open
when nothing is configured, else 401. Only the configured algorithm is accepted, so
``alg: none`` and algorithm confusion (a public key used as an HMAC secret) fail.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from rest_framework.permissions import BasePermission

from engine.errors import not_authenticated, not_authorized

JWT_LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class AuthConfig:
    token: str
    jwt_secret: str
    jwt_method: str
    jwt_audience: str

    @property
    def jwt_enabled(self) -> bool:
        return bool(self.jwt_secret and self.jwt_method)


def auth_config() -> AuthConfig:
    return AuthConfig(
        token=settings.CONVAPI_AUTH_TOKEN,
        jwt_secret=settings.CONVAPI_JWT_SECRET,
        jwt_method=settings.CONVAPI_JWT_METHOD,
        jwt_audience=settings.CONVAPI_JWT_AUDIENCE,
    )


def decode_jwt(token: str, config: AuthConfig) -> dict[str, Any] | None:
    """The verified payload, or None for any invalid, expired or badly signed token."""
    options = {"verify_aud": bool(config.jwt_audience)}
    try:
        payload = jwt.decode(
            token,
            config.jwt_secret,
            algorithms=[config.jwt_method],
            audience=config.jwt_audience or None,
            leeway=JWT_LEEWAY_SECONDS,
            options=options,
        )
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    if not isinstance(payload, dict) or payload.get("token_type") == "refresh":
        return None  # a refresh token is only good for /auth/refresh
    return payload


def bearer_token(authorization: str) -> str | None:
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def jwt_allows(payload: dict[str, Any], conversation_id: str | None) -> bool:
    """Rasa's scope check: admins go anywhere, users only to their own conversation."""
    user = payload.get("user")
    if not isinstance(user, dict):
        user = {}
    role = user.get("role")
    if role == "admin":
        return True
    if role == "user":
        return conversation_id is not None and user.get("username") == conversation_id
    return False


def _same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison, so response timing leaks nothing about the token."""
    return hmac.compare_digest(given.encode(), expected.encode())


def authorize(*, query_token: str | None, authorization: str, conversation_id: str | None) -> None:
    """Raise 401/403 unless the request may use a guarded route."""
    config = auth_config()
    if config.token and query_token is not None and _same_secret(query_token, config.token):
        return
    if config.jwt_enabled and authorization:
        token = bearer_token(authorization)
        payload = decode_jwt(token, config) if token else None
        if payload is not None:
            if jwt_allows(payload, conversation_id):
                return
            raise not_authorized()
    if not config.token and not config.jwt_enabled:
        return
    raise not_authenticated()


class RasaAuth(BasePermission):
    """DRF permission applying ``authorize`` with the route's conversation id."""

    def has_permission(self, request, view) -> bool:
        authorize(
            query_token=request.query_params.get("token"),
            authorization=request.headers.get("Authorization", ""),
            conversation_id=view.kwargs.get("conversation_id"),
        )
        return True
