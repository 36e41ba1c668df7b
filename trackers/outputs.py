"""Bot messages pushed to a conversation outside of the user's request.

A reminder or an external intent (``/trigger_intent``) can make the bot speak when no
request of the user is waiting for the answer. Those messages go to the conversation
through the channel the user last wrote from, when that channel can push: the channel
registers a deliverer here (from its ``AppConfig.ready()``). Over REST, which only
answers, they stay in the tracker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

Deliver = Callable[[str, list[dict]], None]


@dataclass(frozen=True)
class OutputChannel:
    deliver: Deliver
    # Whether the channel is enabled now (credentials.yml may close it).
    is_open: Callable[[], bool]
    # Pushed messages are also answered in the HTTP body (Rasa's callback output collects
    # what it sends).
    answers_too: bool


_channels: dict[str, OutputChannel] = {}


def output_channel_register(
    name: str, deliver: Deliver, *, is_open: Callable[[], bool], answers_too: bool = False
) -> None:
    """``deliver(sender_id, messages)`` pushes to the conversations of input channel ``name``."""
    _channels[name] = OutputChannel(deliver=deliver, is_open=is_open, answers_too=answers_too)


def _open_channel(name: str | None) -> OutputChannel | None:
    channel = _channels.get(name or "")
    return channel if channel is not None and channel.is_open() else None


def messages_answered(
    *, sender_id: str, output_channel: str | None, latest_channel: str | None, messages: list[dict]
) -> list[dict] | None:
    """Rasa's ``output_channel`` query: push the messages to that channel (``latest``: the
    channel of the user's latest message) and answer them only if it cannot push or also
    answers; None when the answer leaves them out."""
    name = latest_channel if output_channel == "latest" else output_channel
    channel = _open_channel(name)
    if channel is None:
        return messages
    messages_push(sender_id=sender_id, input_channel=name, messages=messages)
    return messages if channel.answers_too else None


def messages_push(*, sender_id: str, input_channel: str | None, messages: list[dict]) -> bool:
    """Push ``messages`` through ``input_channel``; whether a channel took them.

    A channel that fails to deliver is logged, never raised: the turn that made the
    messages is stored already.
    """
    channel = _open_channel(input_channel)
    if channel is None or not messages:
        return False
    try:
        channel.deliver(sender_id, messages)
    except Exception:
        logger.exception(
            "Pushing %d message(s) to conversation '%s' over %s failed",
            len(messages),
            sender_id,
            input_channel,
        )
        return False
    return True
