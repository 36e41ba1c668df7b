"""GET /health, JWT issuing through /auth/token and /auth/refresh, and the OpenAPI schema."""

from __future__ import annotations

import jwt
import pytest
from django.contrib.auth.models import User

pytestmark = [pytest.mark.django_db]


def test_it_reports_health_without_auth(client, token_auth, initbot):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["broker"] in ("ok", "eager")
    assert body["model"]["loaded"] is True


def test_it_answers_503_naming_a_broker_that_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]


@pytest.fixture
def users(db):
    User.objects.create_user("ann", password="pw-ann-123", is_staff=True)
    User.objects.create_user("bob", password="pw-bob-123")


def obtain(client, username: str, password: str):
    return client.post_json("/auth/token", {"username": username, "password": password})


def test_it_issues_tokens_carrying_the_rasa_claim(client, token_auth, initbot, users):
    response = obtain(client, "ann", "pw-ann-123")
    assert response.status_code == 200
    access = response.json()["access"]
    claims = jwt.decode(access, "core", algorithms=["HS256"])
    assert claims["user"] == {"username": "ann", "role": "admin"}
    status = client.get("/status", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert status.status_code == 200


def test_it_gives_non_staff_users_the_user_role(client, token_auth, initbot, users):
    access = obtain(client, "bob", "pw-bob-123").json()["access"]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {access}"}
    assert client.get("/status", **headers).status_code == 403
    assert client.get("/conversations/bob/tracker", **headers).status_code == 200
    assert client.get("/conversations/ann/tracker", **headers).status_code == 403


def test_it_refreshes_and_refuses_refresh_tokens_as_access(client, token_auth, initbot, users):
    refresh = obtain(client, "ann", "pw-ann-123").json()["refresh"]
    assert client.get("/status", HTTP_AUTHORIZATION=f"Bearer {refresh}").status_code == 401
    response = client.post_json("/auth/refresh", {"refresh": refresh})
    assert response.status_code == 200
    access = response.json()["access"]
    assert client.get("/status", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 200


def test_it_refuses_wrong_passwords_in_the_error_format(client, token_auth, users):
    response = obtain(client, "ann", "wrong")
    assert response.status_code == 401
    assert response.json()["status"] == "failure"
    bad_refresh = client.post_json("/auth/refresh", {"refresh": "garbage"})
    assert bad_refresh.status_code == 401


def test_it_says_when_jwt_issuing_is_not_configured(client, open_auth, users):
    response = obtain(client, "ann", "pw-ann-123")
    assert response.status_code == 409


def test_it_serves_its_openapi_schema_and_docs(client):
    schema = client.get("/api/schema", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "get" in paths["/conversations/{conversation_id}/tracker"]
    assert "delete" in paths["/conversations/{conversation_id}"]  # the erase route, by its name
    listed = paths["/conversations"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listed["schema"]["type"] == "array"  # the 0.x list of ids, as it is answered
    operation_ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_it_locks_out_repeated_failed_logins(client, token_auth, users, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        obtain(client, "ann", "wrong")
    locked = obtain(client, "ann", "pw-ann-123")
    assert locked.status_code == 429
    assert locked.json()["reason"] == "TooManyRequests"
    admin_login = client.post("/admin/login/", {"username": "ann", "password": "pw-ann-123"})
    assert admin_login.status_code == 429
