"""Bot events as the REST channel's messages (API.md section 5, Rasa's collecting channel)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.events import BotUttered, Event

COLLECTOR_CHANNEL = "collector"
_MESSAGE_KEYS = ("text", "image", "buttons", "attachment", "custom")


def messages_for_events(events: Iterable[Event]) -> list[dict]:
    """Every ``bot`` event's output messages, in order (``recipient_id`` left to the caller)."""
    messages: list[dict] = []
    for event in events:
        if isinstance(event, BotUttered):
            messages.extend(messages_for_bot(event))
    return messages


def messages_for_bot(event: BotUttered) -> list[dict]:
    """One bot utterance as sent by Rasa's ``send_response``: text (split on blank lines) or
    text with buttons / quick replies, then custom, image, attachment and elements apart."""
    message = event.message()
    out: list[dict] = []
    if message.get("quick_replies"):
        out.append(_message(text=message.get("text"), buttons=message["quick_replies"]))
    elif message.get("buttons"):
        out.append(_message(text=message.get("text"), buttons=message["buttons"]))
    elif message.get("text"):
        out.extend(_message(text=part) for part in message["text"].strip().split("\n\n"))
    if message.get("custom"):
        out.append(_message(custom=message["custom"]))
    if message.get("image"):
        out.append(_message(image=message["image"]))
    if message.get("attachment"):
        out.append(_message(attachment=message["attachment"]))
    for element in message.get("elements") or []:
        title = f"{element.get('title', '')} : {element.get('subtitle', '')}"
        out.append(_message(text=title, buttons=element.get("buttons") or []))
    return out


def with_recipient(messages: Iterable[dict], recipient_id: str) -> list[dict]:
    return [{"recipient_id": recipient_id, **message} for message in messages]


def _message(**fields: Any) -> dict:
    return {key: fields[key] for key in _MESSAGE_KEYS if fields.get(key) is not None}
