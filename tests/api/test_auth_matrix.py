"""Who is let in on every route (API.md section 3), for every kind of credential."""

from __future__ import annotations

import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.api.checks import assert_rasa_error
from tests.conftest import admin_jwt, make_jwt, user_jwt

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("token_auth", "trained_initbot")]

OWN_ID = "alice"
JOB_ID = "6f1c1f4e-8d1b-4c52-9a63-0d3f2b7a9e10"
EVENT = json.dumps({"event": "action", "name": "action_listen"})
OK = {200}


# Every guarded route of convapi/urls.py: (method, path, body, has a conversation id, the
# statuses the route itself answers when the caller is let in). "Allowed" means exactly
# one of those: the route's own success, or the 4xx its (deliberately incomplete) body
# earns. Never 401/403, never a 5xx. The conversation OWN_ID exists (see ``_stored``).
GUARDED_ROUTES = [
    ("get", "/status", None, False, OK),
    ("get", "/conversations", None, False, OK),
    ("get", "/conversations/{id}/tracker", None, True, OK),
    ("post", "/conversations/{id}/tracker/events", EVENT, True, OK),
    ("put", "/conversations/{id}/tracker/events", f"[{EVENT}]", True, OK),
    ("put", "/conversations/{id}/tracker", f"[{EVENT}]", True, OK),
    ("post", "/conversations/{id}/messages", json.dumps({"text": "hi", "sender": "user"}), True,
     OK),
    ("post", "/conversations/{id}/predict", None, True, OK),
    ("post", "/conversations/{id}/execute", json.dumps({"name": "utter_greet"}), True, OK),
    ("post", "/conversations/{id}/trigger_intent", json.dumps({"name": "greet"}), True, OK),
    ("get", "/conversations/{id}/story", None, True, OK),
    ("get", "/conversations/{id}/respond?q=hello", None, True, OK),
    ("post", "/conversations/{id}/respond", json.dumps({"query": "hello"}), True, OK),
    ("delete", "/conversations/{id}", None, True, {204}),
    ("post", "/model/parse", json.dumps({"text": "hello"}), False, OK),
    ("get", "/parse?q=hello", None, False, OK),
    ("post", "/parse", json.dumps({"q": "hello"}), False, OK),
    ("post", "/model/predict", f"[{EVENT}]", False, OK),
    ("get", "/domain", None, False, OK),
    ("put", "/model", "{}", False, {400}),  # no model_file: the route's own 400
    ("delete", "/model", None, False, {204}),
    ("post", "/model/train", "", False, {400}),  # empty training data
    ("post", "/model/test/stories", "", False, {400}),
    ("post", "/model/test/intents", "", False, {400}),
    ("get", "/jobs", None, False, OK),
    ("get", f"/jobs/{JOB_ID}", None, False, OK),
    ("get", "/models", None, False, OK),
    ("get", "/metrics", None, False, OK),  # admin only: a user's JWT has no conversation here
]  # fmt: skip
# Never guarded, whatever the credentials: (method, path, body, the route's answer).
PUBLIC_ROUTES = [
    ("get", "/", None, OK),
    ("get", "/version", None, OK),
    ("get", "/health", None, OK),
    ("get", "/health/live", None, OK),
    # 503 is its own answer when no Celery worker answers (a broker, no worker started).
    ("get", "/health/ready", None, {200, 503}),
    ("get", "/api/schema", None, OK),
    ("get", "/api/docs", None, OK),
    ("get", "/webhooks/rest/", None, OK),
    ("post", "/webhooks/rest/webhook", json.dumps({"sender": "x", "message": "hi"}), OK),
    # Closed by the project's credentials.yml: 404 to anyone, never an auth refusal
    # (tests/jobs/test_callback_channel.py opens it, with the API's token set).
    ("get", "/webhooks/callback/", None, {404}),
    ("post", "/webhooks/callback/webhook", json.dumps({"sender": "x", "message": "hi"}), {404}),
    ("post", "/auth/token", json.dumps({"username": "staff", "password": "pw"}), OK),
    ("post", "/auth/refresh", "REFRESH", OK),  # the body is filled in with a real token
]
GUARDED_IDS = [f"{r[0]} {r[1]}" for r in GUARDED_ROUTES]


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


@pytest.fixture
def _stored(client, django_user_model, settings, token_auth, trained_initbot):
    """What the routes act on: OWN_ID's conversation, a job, a staff user for /auth/token."""
    from jobs.models import Job
    from trackers.models import Conversation

    turn = client.post(
        "/webhooks/rest/webhook",
        json.dumps({"sender": OWN_ID, "message": "hello"}),
        content_type="application/json",
    )
    assert turn.status_code == 200, turn.content
    assert Conversation.objects.get(sender_id=OWN_ID).event_count > 0
    Job.objects.create(id=JOB_ID, kind="train", status="succeeded", progress=1.0)
    # A fast hasher: the matrix logs in hundreds of times, security is not the point here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_user_model.objects.create_user("staff", password="pw", is_staff=True)


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


def assert_allowed(response, statuses: set[int]) -> None:
    """Let in: the route's own answer, never an auth refusal, never a server error (a 5xx
    only where the row names it: the readiness probe's 503)."""
    assert response.status_code in statuses, (response.status_code, response.content[:500])
    assert response.status_code not in (401, 403)


def stored() -> tuple:
    from jobs.models import Job
    from trackers.models import Conversation, Event

    return (
        tuple(Conversation.objects.order_by("pk").values_list("pk", "event_count")),
        Event.objects.count(),
        tuple(Job.objects.order_by("pk").values_list("pk", "status")),
    )


@pytest.mark.usefixtures("_stored")
@pytest.mark.parametrize("route", GUARDED_ROUTES, ids=GUARDED_IDS)
@pytest.mark.parametrize("case", list(CREDENTIALS), ids=str)
def test_it_guards_every_route(client, route, case):
    method, path, body, has_id, statuses = route
    credentials, outcome = CREDENTIALS[case]
    before = stored()
    response = call(client, method, path, body, credentials)
    status = expected_status(outcome, has_id)
    if status is None:
        assert_allowed(response, statuses)
    else:
        assert_rasa_error(response, status, {401: "NotAuthenticated", 403: "NotAuthorized"}[status])
        assert stored() == before, "a refused request changed nothing"


def test_the_matrix_covers_every_route():
    """A route added to convapi/urls.py without a row here fails this test."""
    from django.urls import get_resolver

    covered = {path.split("?")[0] for _, path, *_ in GUARDED_ROUTES}
    covered |= {path for _, path, *_ in PUBLIC_ROUTES}
    routes = [p.pattern for p in get_resolver("convapi.urls").url_patterns]
    samples = {
        str(pattern): str(pattern)
        .replace("^conversations/(?P<conversation_id>.+)", "/conversations/{id}")
        .replace("conversations/<conversation_id:conversation_id>", "/conversations/{id}")
        .replace("$", "")
        .replace("<str:job_id>", JOB_ID)
        for pattern in routes
    }
    for pattern, sample in samples.items():
        sample = sample if sample.startswith("/") else "/" + sample
        assert sample in covered, f"route {pattern!r} ({sample}) is not in the auth matrix"


@pytest.mark.usefixtures("_stored")
@pytest.mark.parametrize("route", PUBLIC_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
@pytest.mark.parametrize("case", list(CREDENTIALS), ids=str)
def test_it_leaves_public_routes_open(client, route, case):
    method, path, body, statuses = route
    if body == "REFRESH":
        login = {"username": "staff", "password": "pw"}
        tokens = client.post("/auth/token", json.dumps(login), content_type="application/json")
        body = json.dumps({"refresh": tokens.json()["refresh"]})
    assert_allowed(call(client, method, path, body, CREDENTIALS[case][0]), statuses)


@pytest.mark.usefixtures("_stored")
@pytest.mark.parametrize("route", GUARDED_ROUTES, ids=GUARDED_IDS)
def test_it_is_open_when_no_auth_is_configured(client, settings, route):
    settings.CONVAPI_AUTH_TOKEN = ""
    settings.CONVAPI_JWT_SECRET = ""
    method, path, body, _, statuses = route
    assert_allowed(call(client, method, path, body, {}), statuses)


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
