"""The "try the bot" page (``GET /chat/``): a chat with the served bot over the socket.io
channel, in the browser.

The page talks to the bot exactly as Rasa's web widget does (``session_request``, then
``user_uttered``; the answers come back as ``bot_uttered``), so what works here works for
a website's widget. ``CONVAPI_CHAT_PAGE`` opens it to staff (the admin's login), to
anyone, or closes it.
"""

from __future__ import annotations

import time

import jwt
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from convapi.credentials import SocketIOSettings, configured_credentials

# The browser keeps the session id (and the messages shown) under this localStorage key.
STORAGE_KEY = "convapi-chat"
# How long the token the page gets for a channel with ``jwt_key`` lasts (a working day):
# the socket sends it on every (re)connection; past it, a reload gets another.
SOCKET_TOKEN_SECONDS = 8 * 3600


@never_cache
@require_safe
def chat_page(request: HttpRequest) -> HttpResponse:
    if settings.CONVAPI_CHAT_PAGE == "off":
        raise Http404("The chat page is off (CONVAPI_CHAT_PAGE=off).")
    if settings.CONVAPI_CHAT_PAGE == "staff" and not _is_staff(request):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    credentials = configured_credentials()
    socketio = credentials.socketio
    context = {
        "socketio": socketio,
        "credentials_file": credentials.source or settings.CONVAPI_CREDENTIALS,
        "is_staff": _is_staff(request),
    }
    if socketio is not None:
        token = socket_token(socketio, request)
        context["chat_config"] = {**chat_config(socketio), "token": token}
        context["token_missing"] = bool(socketio.jwt_key) and token is None
    return render(request, "convapi/chat.html", context)


def socket_token(socketio: SocketIOSettings, request: HttpRequest) -> str | None:
    """A token for the socket's ``auth`` when the channel asks for one (``jwt_key``).

    Only for staff (a public page would hand every visitor the key's trust), and only for
    an HMAC method: with RS*/ES* ``jwt_key`` is a public key, which cannot sign.
    """
    if not socketio.jwt_key or not socketio.jwt_method.startswith("HS") or not _is_staff(request):
        return None
    claims = {
        "user": {"username": request.user.get_username(), "role": "user"},
        "exp": int(time.time()) + SOCKET_TOKEN_SECONDS,
    }
    return jwt.encode(claims, socketio.jwt_key, algorithm=socketio.jwt_method)


def chat_config(socketio: SocketIOSettings) -> dict:
    """What the page's script needs to speak the channel as credentials.yml sets it up."""
    return {
        "path": socketio.socketio_path,
        "namespace": socketio.namespace or "/",
        "userMessageEvent": socketio.user_message_evt,
        "botMessageEvent": socketio.bot_message_evt,
        "metadataKey": socketio.metadata_key,
        "sessionPersistence": socketio.session_persistence,
        "storageKey": STORAGE_KEY,
    }


def _is_staff(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.is_staff
