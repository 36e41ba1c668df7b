"""The socket.io channel through a real gunicorn with the asgi worker class and two
workers on PostgreSQL, Redis sharing the rooms: what a Rasa socket.io client sees, what is
stored, pushes from other processes, and bad input."""

from __future__ import annotations

import json
import uuid

import jwt
import pytest
import requests
import socketio
from django.db import connection

from tests.socketio.conftest import sockets_on_each_worker
from trackers.models import Conversation, Event

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: gunicorn's workers share the database, SQLite has one writer",
    ),
]

GREETING = {
    "text": "Hey! How are you?",
    "quick_replies": [
        {"content_type": "text", "title": "great", "payload": "/mood_great"},
        {"content_type": "text", "title": "super sad", "payload": "/mood_unhappy"},
    ],
}
CHEER_UP = [
    {"text": "Here is something to cheer you up:"},
    {"attachment": {"type": "image", "payload": {"src": "https://i.imgur.com/iPa8HCj.jpeg"}}},
    {"text": "Did that help you?"},
]


def events_of(sender_id: str) -> list[Event]:
    return list(Event.objects.filter(conversation__sender_id=sender_id).order_by("seq"))


def test_it_answers_its_health_route_on_the_apis_port(asgi_server):
    base_url = asgi_server()
    assert requests.get(f"{base_url}/webhooks/socketio/", timeout=10).json() == {"status": "ok"}
    assert requests.get(f"{base_url}/version", timeout=10).ok  # Django on the same port


def test_a_websocket_greeting_is_answered_and_stored_under_the_session_id(asgi_server, chats):
    base_url = asgi_server()
    chat = chats().connect(base_url)
    session_id = chat.session()
    assert len(session_id) == 32 and uuid.UUID(hex=session_id)  # a new uuid4 hex
    chat.say("hello", session_id, metadata={"page": "/pricing"})
    assert chat.bot(1) == [GREETING]
    events = events_of(session_id)
    user = next(event for event in events if event.type_name == "user")
    assert (user.text, user.data["input_channel"]) == ("hello", "socketio")
    assert user.data["metadata"]["page"] == "/pricing"
    assert [e.data["text"] for e in events if e.type_name == "bot"] == ["Hey! How are you?"]
    assert Conversation.objects.get(sender_id=session_id).latest_input_channel == "socketio"


def test_a_reconnection_with_the_same_session_id_continues_the_conversation(asgi_server, chats):
    base_url = asgi_server()
    first = chats().connect(base_url)
    session_id = first.session("returning-visitor")
    first.say("hello", session_id)
    assert first.bot(1) == [GREETING]
    first.close()
    again = chats().connect(base_url)
    assert again.session("returning-visitor") == "returning-visitor"
    again.say("I am sad", session_id, metadata=json.dumps({"as": "a JSON string"}))
    assert again.bot(3) == CHEER_UP
    users = [event for event in events_of("returning-visitor") if event.type_name == "user"]
    assert [event.text for event in users] == ["hello", "I am sad"]
    assert users[1].data["metadata"]["as"] == "a JSON string"
    assert Conversation.objects.filter(sender_id="returning-visitor").count() == 1


def test_every_socket_of_a_session_gets_its_messages_whichever_worker_it_is_on(asgi_server, chats):
    """Four sockets of one session, two on each worker: each gets every answer.

    The workers are forked from one master: each must still be a host of its own to the
    others in Redis, or it drops their messages as its own.
    """
    base_url = asgi_server()
    sockets = sockets_on_each_worker(chats, base_url, workers=2, each=2)
    for chat in sockets:
        chat.session("shared-session")
    sockets[0].say("hello", "shared-session")
    for chat in sockets:
        assert chat.bot(1) == [GREETING]


def test_a_push_from_another_process_reaches_the_socket(
    asgi_server, chats, settings, socketio_redis_url
):
    """The test process is no server worker: its push goes through Redis."""
    from trackers.outputs import messages_push

    base_url = asgi_server()
    settings.CONVAPI_SOCKETIO_REDIS_URL = socketio_redis_url
    chat = chats().connect(base_url)
    chat.session("pushed-to")
    pushed = [{"recipient_id": "pushed-to", "text": "A reminder\n\nfor you"}]
    assert messages_push(sender_id="pushed-to", input_channel="socketio", messages=pushed)
    assert chat.bot(2) == [{"text": "A reminder"}, {"text": "for you"}]


def test_an_external_intent_answered_by_any_worker_reaches_the_socket(asgi_server, chats):
    """``/trigger_intent?output_channel=latest`` on whichever worker takes the request."""
    base_url = asgi_server()
    for n in range(6):
        chat = chats().connect(base_url)
        session_id = chat.session(f"nudged-{n}")
        chat.say("hello", session_id)
        chat.bot(1)
        answer = requests.post(
            f"{base_url}/conversations/{session_id}/trigger_intent?output_channel=latest",
            json={"name": "mood_unhappy"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert chat.bot(3) == CHEER_UP


BAD_MESSAGES = [
    "not an object",
    ["a", "list"],
    {"message": 42, "session_id": "bad-input"},
    {"message": "x" * 401, "session_id": "bad-input"},
    {"message": "hello", "session_id": "bad-input", "metadata": "{not json"},
    {"message": "hello", "session_id": "bad-input", "metadata": "[1, 2]"},
    {"message": "hello"},  # no session id, with session persistence
    {"message": "hello", "session_id": "bad\x00input"},
]


def test_bad_payloads_are_dropped_and_the_worker_answers_the_next(asgi_server, chats):
    base_url = asgi_server(workers=1, env={"CONVAPI_MAX_MESSAGE_CHARS": "400"})
    chat = chats().connect(base_url)
    chat.session("bad-input")
    chat.client.emit("session_request", "not an object")  # ignored: nothing confirmed
    chat.client.emit("no_such_event", {"message": "hello"})
    for payload in BAD_MESSAGES:
        chat.client.emit("user_uttered", payload)
    assert chat.nothing_more()
    assert not Conversation.objects.filter(sender_id__startswith="bad").exists()
    chat.say("hello", "bad-input")
    assert chat.bot(1) == [GREETING]
    assert [e.text for e in events_of("bad-input") if e.type_name == "user"] == ["hello"]


def test_it_refuses_a_cross_origin_socket_unless_the_origin_is_allowed(asgi_server, chats):
    base_url = asgi_server(workers=1, env={"CONVAPI_CORS_ORIGINS": "https://shop.example"})

    def connect(origin: str):  # polling: websocket-client sends an Origin of its own
        return chats().connect(base_url, transport="polling", headers={"Origin": origin})

    with pytest.raises(socketio.exceptions.ConnectionError):
        connect("https://evil.example")
    assert connect("https://shop.example").session()
    assert connect(base_url).session()  # its own page


JWT_KEY = "socket-secret-0123456789abcdef0123456789"


@pytest.fixture
def credentials_without_persistence(tmp_path):
    path = tmp_path / "credentials.yml"
    path.write_text(f"rest:\nsocketio:\n  jwt_key: {JWT_KEY}\n  bot_message_evt: bot_uttered\n")
    return path


def test_with_a_jwt_key_a_socket_needs_a_valid_token(
    asgi_server, chats, credentials_without_persistence
):
    base_url = asgi_server(workers=1, credentials=credentials_without_persistence)
    for auth in (None, {"token": "nonsense"}, {"token": jwt.encode({}, "wrong-key-" * 4)}):
        with pytest.raises(socketio.exceptions.ConnectionError):
            chats().connect(base_url, auth=auth)
    token = jwt.encode({"user": {"username": "x"}}, JWT_KEY, algorithm="HS256")
    assert chats().connect(base_url, auth={"token": f"Bearer {token}"}).session()


def test_without_session_persistence_the_conversation_is_the_sockets_own(
    asgi_server, chats, credentials_without_persistence
):
    base_url = asgi_server(workers=1, credentials=credentials_without_persistence)
    token = jwt.encode({}, JWT_KEY, algorithm="HS256")
    chat = chats().connect(base_url, auth={"token": token})
    chat.session("ignored-for-the-conversation")
    chat.say("hello", None)
    assert chat.bot(1) == [GREETING]
    sid = chat.client.get_sid()
    assert [e.text for e in events_of(sid) if e.type_name == "user"] == ["hello"]
    assert not Conversation.objects.filter(sender_id="ignored-for-the-conversation").exists()
