"""credentials.yml: Rasa's channel keys, its defaults, and clear errors at start."""

from __future__ import annotations

import logging

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from convapi.credentials import (
    CallbackSettings,
    Credentials,
    SocketIOSettings,
    configured_credentials,
    credentials_from_yaml,
    read_credentials,
)
from engine.errors import ConfigError


def test_empty_sections_open_channels_with_rasas_defaults():
    credentials = credentials_from_yaml("rest:\nsocketio:\n")
    assert credentials == Credentials(rest=True, socketio=SocketIOSettings(), callback=None)
    assert credentials.socketio.user_message_evt == "user_uttered"
    assert credentials.socketio.bot_message_evt == "bot_uttered"
    assert credentials.socketio.socketio_path == "/socket.io"
    assert credentials.socketio.session_persistence is False


def test_rasas_keys_are_read():
    credentials = credentials_from_yaml(
        "socketio:\n"
        "  user_message_evt: say\n"
        "  bot_message_evt: hear\n"
        "  session_persistence: true\n"
        "  socketio_path: /chat-socket/\n"
        "  metadata_key: customData\n"
        "callback:\n"
        "  url: https://example.org/bot\n"
    )
    assert credentials.rest is False  # a file opens exactly the channels it names
    assert credentials.socketio == SocketIOSettings(
        user_message_evt="say",
        bot_message_evt="hear",
        session_persistence=True,
        socketio_path="/chat-socket",
        metadata_key="customData",
    )
    assert credentials.callback == CallbackSettings(url="https://example.org/bot")


def test_no_file_opens_the_rest_channel_alone():
    assert read_credentials(None) == Credentials(rest=True)


def test_environment_variables_are_interpolated(monkeypatch):
    monkeypatch.setenv("BOT_HOOK", "http://127.0.0.1:9/hook")
    credentials = credentials_from_yaml("callback:\n  url: ${BOT_HOOK}\n")
    assert credentials.callback.url == "http://127.0.0.1:9/hook"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- rest\n", "must be a mapping of channel names"),
        ("rest: yes please\n", "'rest' must be a mapping of settings"),
        ("callback:\n", "'callback' needs a 'url'"),
        ("callback:\n  url: ftp://x\n", "'callback' needs a 'url'"),
        ("socketio:\n  session_persistence: maybe\n", "'socketio.session_persistence'"),
        ("socketio:\n  socketio_path: socket\n", "must start with '/'"),
        ("socketio:\n  bot_message_evt: ''\n", "'socketio.bot_message_evt' must be"),
        ("rest: [\n", "credentials.yml"),
    ],
)
def test_a_bad_file_is_a_config_error_naming_the_key(text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        credentials_from_yaml(text, source="credentials.yml")


def test_a_missing_file_is_named():
    with pytest.raises(ConfigError, match="no such file"):
        read_credentials("/nonexistent/credentials.yml")


def test_other_channels_are_named_in_one_warning(settings, tmp_path, caplog):
    path = tmp_path / "credentials.yml"
    path.write_text("rest:\nslack:\n  slack_token: x\ntelegram:\n  access_token: y\n")
    settings.CONVAPI_CREDENTIALS = str(path)
    with caplog.at_level(logging.WARNING, logger="convapi.credentials"):
        credentials = configured_credentials()
        configured_credentials()
    assert credentials.ignored == ("slack", "telegram")
    warnings = [r.getMessage() for r in caplog.records if r.name == "convapi.credentials"]
    assert len(warnings) == 1
    assert "slack, telegram" in warnings[0] and str(path) in warnings[0]


def test_a_bad_file_stops_the_server_at_start(settings, tmp_path):
    path = tmp_path / "credentials.yml"
    path.write_text("callback:\n")
    settings.CONVAPI_CREDENTIALS = str(path)
    with pytest.raises(ImproperlyConfigured, match="'callback' needs a 'url'"):
        apps.get_app_config("convapi").ready()


def test_the_projects_own_file_opens_rest_and_socketio(settings):
    credentials = configured_credentials()
    assert credentials.rest is True
    assert credentials.socketio is not None and credentials.socketio.session_persistence
    assert credentials.callback is None
