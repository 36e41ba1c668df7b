"""Who is let in on every route (API.md section 3), for every kind of credential."""

from __future__ import annotations

import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import admin_jwt, make_jwt, user_jwt

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("token_auth", "trained_initbot")]

OWN_ID = "alice"
EVENT = json.dumps({"event": "action", "name": "action_listen"})

# (method, path, body, has a conversation id)
GUARDED_ROUTES = [
    ("get", "/status", None, False),
    ("get", "/conversations", None, False),
    ("get", "/conversations/{id}/tracker", None, True),
    ("post", "/conversations/{id}/tracker/events", EVENT, True),
    ("put", "/conversations/{id}/tracker/events", f"[{EVENT}]", True),
    ("put", "/conversations/{id}/tracker", f"[{EVENT}]", True),
    ("post", "/conversations/{id}/messages", json.dumps({"text": "hi", "sender": "user"}), True),
    ("post", "/conversations/{id}/predict", None, True),
    ("post", "/conversations/{id}/execute", json.dumps({"name": "utter_greet"}), True),
    ("post", "/conversations/{id}/trigger_intent", json.dumps({"name": "greet"}), True),
    ("get", "/conversations/{id}/story", None, True),
    ("get", "/conversations/{id}/respond?q=hello", None, True),
    ("post", "/conversations/{id}/respond", json.dumps({"query": "hello"}), True),
    ("post", "/model/parse", json.dumps({"text": "hello"}), False),
    ("get", "/parse?q=hello", None, False),
    ("post", "/model/predict", f"[{EVENT}]", False),
    ("get", "/domain", None, False),
    ("put", "/model", "{}", False),
    ("delete", "/model", None, False),
    ("post", "/model/train", "", False),
    ("post", "/model/test/stories", "", False),
    ("post", "/model/test/intents", "", False),
]
PUBLIC_ROUTES = [
    ("get", "/", None, False),
    ("get", "/version", None, False),
    ("get", "/webhooks/rest/", None, False),
    ("post", "/webhooks/rest/webhook", json.dumps({"sender": "x", "message": "hi"}), False),
]


def unsigned_jwt() -> str:
    return jwt.encode({"user": {"username": "admin", "role": "admin"}}, None, algorithm="none")


CREDENTIALS = {
    "none": ({}, "denied"),
    "right token": ({"token": "rasa"}, "allowed"),
    "wrong token": ({"token": "nope"}, "denied"),
    "admin jwt": ({"jwt": admin_jwt()}, "allowed"),
    "user jwt own id": ({"jwt": user_jwt(OWN_ID)}, "own"),
    "user jwt other id": ({"jwt": user_jwt("mallory")}, "forbidden"),
    "jwt without role": ({"jwt": make_jwt({"user": {"username": OWN_ID}})}, "forbidden"),
    "expired jwt": ({"jwt": admin_jwt(expires_in=-3600)}, "denied"),
    "jwt with another key": ({"jwt": admin_jwt(key="not-the-secret")}, "denied"),
    "alg none": ({"jwt": unsigned_jwt()}, "denied"),
}


def call(client, method: str, path: str, body, credentials: dict):
    url = path.replace("{id}", OWN_ID)
    if "token" in credentials:
        url += ("&" if "?" in url else "?") + f"token={credentials['token']}"
    headers = {"HTTP_AUTHORIZATION": f"Bearer {credentials['jwt']}"} if "jwt" in credentials else {}
    kwargs = {"content_type": "application/json"} if body is not None else {}
    return getattr(client, method)(url, body, **kwargs, **headers)


def expected_status(outcome: str, has_id: bool) -> int | None:
    if outcome == "own":
        outcome = "allowed" if has_id else "forbidden"
    return {"allowed": None, "denied": 401, "forbidden": 403}[outcome]


@pytest.mark.parametrize("route", GUARDED_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
@pytest.mark.parametrize("case", list(CREDENTIALS), ids=str)
def test_it_guards_every_route(client, route, case):
    method, path, body, has_id = route
    credentials, outcome = CREDENTIALS[case]
    response = call(client, method, path, body, credentials)
    status = expected_status(outcome, has_id)
    if status is None:
        assert response.status_code not in (401, 403), response.content
    else:
        assert response.status_code == status
        reason = {401: "NotAuthenticated", 403: "NotAuthorized"}[status]
        assert response.json()["reason"] == reason


@pytest.mark.parametrize("route", PUBLIC_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
@pytest.mark.parametrize("case", list(CREDENTIALS), ids=str)
def test_it_leaves_public_routes_open(client, route, case):
    method, path, body, _ = route
    assert call(client, method, path, body, CREDENTIALS[case][0]).status_code == 200


@pytest.mark.parametrize("route", GUARDED_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_it_is_open_when_no_auth_is_configured(client, settings, route):
    settings.CONVAPI_AUTH_TOKEN = ""
    settings.CONVAPI_JWT_SECRET = ""
    method, path, body, _ = route
    assert call(client, method, path, body, {}).status_code not in (401, 403)


def test_it_refuses_a_jwt_when_only_a_token_is_configured(client, settings):
    settings.CONVAPI_JWT_SECRET = ""
    assert call(client, "get", "/status", None, {"jwt": admin_jwt()}).status_code == 401


def test_it_reads_the_token_only_from_the_query(client):
    response = client.get("/status", HTTP_AUTHORIZATION="Bearer rasa", HTTP_TOKEN="rasa")
    assert response.status_code == 401


def rsa_keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_it_verifies_rs256_tokens_with_the_public_key(client, settings):
    private, public = rsa_keys()
    settings.CONVAPI_JWT_SECRET = public
    settings.CONVAPI_JWT_METHOD = "RS256"
    token = make_jwt(
        {"user": {"username": "myuser", "role": "admin"}}, key=private, algorithm="RS256"
    )
    assert call(client, "get", "/status", None, {"jwt": token}).status_code == 200
    # Algorithm confusion: the public key used as an HMAC secret must not pass.
    forged = _hs256_with_raw_key(public)
    assert call(client, "get", "/status", None, {"jwt": forged}).status_code == 401


def _hs256_with_raw_key(secret: str) -> str:
    """Sign HS256 by hand: PyJWT refuses to use a PEM key as an HMAC secret."""
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps({"user": {"username": "x", "role": "admin"}}).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def test_it_honours_the_leeway_on_expiry(client):
    token = admin_jwt(expires_in=-30)
    assert call(client, "get", "/status", None, {"jwt": token}).status_code == 200


def test_it_checks_the_audience_when_configured(client, settings):
    settings.CONVAPI_JWT_AUDIENCE = "convapi"
    wrong = make_jwt({"user": {"role": "admin"}, "aud": "other"})
    right = make_jwt({"user": {"role": "admin"}, "aud": "convapi"})
    assert call(client, "get", "/status", None, {"jwt": wrong}).status_code == 401
    assert call(client, "get", "/status", None, {"jwt": right}).status_code == 200
