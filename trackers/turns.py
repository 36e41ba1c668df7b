"""Conversation turns: lock the conversation, run the engine's processor, persist.

Each function here is one service a view, a channel or a task calls. The processor
applies its events to the tracker restored from the snapshot; the store appends exactly
those events in one short transaction, under the conversation's lock (``trackers.locks``,
API.md 4.19), so turns on one conversation never interleave, whatever the number of web
workers and hosts. A reminder fires through the same locked turn, so whether it still
counts is decided on the log as it is under the lock.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import (
    EngineError,
    ServiceError,
    conflict,
    conversation_not_found,
    not_found,
)
from engine.events import ReminderScheduled
from engine.output import with_recipient
from engine.processor import MessageProcessor, TurnResult, UnknownActionError, UnknownIntentError
from engine.story_writer import write_test_stories
from engine.tracker import EventVerbosity, Tracker
from jobs.log_context import log_context
from jobs.metrics import parse_observed, turn_measured
from jobs.stages import stage
from serving.holder import Assistant, processor_for, require_model
from trackers import store
from trackers.locks import conversation_locked
from trackers.outputs import messages_push
from trackers.reminders import reminders_schedule, reminders_touched
from trackers.services import state_events

logger = logging.getLogger(__name__)

CALLBACK_CHANNEL = "callback"

Step = Callable[[MessageProcessor, Tracker], TurnResult]


@dataclass
class Turn:
    result: TurnResult
    state: dict[str, Any] | None
    messages: list[dict]
    # The channel of the user's latest message: where pushed messages go.
    latest_channel: str | None = None


def run_turn(
    *,
    sender_id: str,
    assistant: Assistant,
    step: Step,
    verbosity: EventVerbosity | None = EventVerbosity.AFTER_RESTART,
    must_exist: bool = False,
    state_before_step: bool = False,
    route: str,
    input_channel: str | None = None,
) -> Turn:
    """Run ``step`` on the conversation's tracker under its lock and store its events.

    No transaction is open while ``step`` runs: it may wait seconds on the action server.
    The events are appended afterwards in one short transaction, fenced on the log as the
    turn read it (``store.events_persist``). ``route`` and ``input_channel`` label the
    turn's metrics; every line it logs names the conversation.
    """
    processor = processor_for(require_model(assistant))
    context = assistant.tracker_context()
    with (
        log_context(conversation_id=sender_id),
        turn_measured(route=route, input_channel=input_channel),
        conversation_locked(sender_id),
    ):
        with stage("restore"):
            conversation, recent = store.conversation_for_turn(sender_id=sender_id)
            if conversation is None:
                if must_exist:
                    raise conversation_not_found()
                conversation = store.conversation_new(sender_id=sender_id)
            tracker = store.tracker_restore(
                conversation, context.slot_defaults, window=store.RECENT_EVENTS, recent=recent
            )
        state = None
        if state_before_step:
            # Rasa's /execute answers with the tracker as fetched before the action ran.
            with stage("dialogue"):
                refresh = processor.refresh_session(tracker, sender_id=sender_id)
            store.events_persist(conversation, tracker, refresh, context.slot_defaults)
            state = _state(conversation, tracker, verbosity)
        with stage("dialogue"):
            result = step(processor, tracker)
        if reminders_touched(result.events):
            with store.timed_transaction():
                store.events_persist(conversation, tracker, result.events, context.slot_defaults)
                # Reminders the turn set or cancelled are scheduled once the events are
                # committed.
                reminders_schedule(sender_id=sender_id, events=result.events)
        else:  # atomic by itself: on PostgreSQL one statement, no BEGIN or COMMIT of its own
            store.events_persist(conversation, tracker, result.events, context.slot_defaults)
        if not state_before_step:
            state = _state(conversation, tracker, verbosity)
    return Turn(
        result=result,
        state=state,
        messages=with_recipient(result.messages, sender_id),
        latest_channel=tracker.latest_input_channel,
    )


def _state(
    conversation: Any, tracker: Tracker, verbosity: EventVerbosity | None
) -> dict[str, Any] | None:
    if verbosity is None:
        return None
    with stage("answer"):
        shown = state_events(conversation, verbosity, latest_session_only=True)
        return tracker.current_state(verbosity, events=shown)


def conversation_message(
    *,
    sender_id: str,
    text: str,
    assistant: Assistant,
    metadata: dict | None = None,
    input_channel: str | None = "rest",
    message_id: str | None = None,
) -> Turn:
    """A user message through the full turn (REST webhook, 0.x ``/respond``)."""
    # Understanding a message needs no tracker: it is parsed before the conversation is
    # locked, so turns queued on one busy conversation wait only for each other's dialogue.
    message_id = message_id or uuid.uuid4().hex
    with stage("nlu"):
        parse_data = require_model(assistant).parse(text, message_id)
    parse_observed(parse_data)

    def step(processor: MessageProcessor, tracker: Tracker) -> TurnResult:
        return processor.handle_message(
            tracker,
            text=text,
            sender_id=sender_id,
            input_channel=input_channel,
            metadata=metadata,
            message_id=message_id,
            parse_data=parse_data,
        )

    return run_turn(
        sender_id=sender_id,
        assistant=assistant,
        step=step,
        verbosity=None,
        route="user_message",
        input_channel=input_channel,
    )


def conversation_log_message(
    *,
    sender_id: str,
    text: str,
    parse_data: dict | None,
    verbosity: EventVerbosity,
    assistant: Assistant,
) -> Turn:
    """``POST /messages``: the user event and its slots, no prediction."""

    def step(processor: MessageProcessor, tracker: Tracker) -> TurnResult:
        return processor.log_message(tracker, text=text, sender_id=sender_id, parse_data=parse_data)

    return run_turn(
        sender_id=sender_id,
        assistant=assistant,
        step=step,
        verbosity=verbosity,
        route="log_message",
    )


def conversation_trigger_intent(
    *,
    sender_id: str,
    intent: str,
    entities: list[dict] | dict | None,
    assistant: Assistant,
    verbosity: EventVerbosity = EventVerbosity.AFTER_RESTART,
) -> Turn:
    """An external intent (``/trigger_intent`` and reminders), then the prediction loop."""
    if intent not in assistant.domain.intents:
        raise not_found(f"The intent '{intent}' does not exist in the domain.")

    def step(processor: MessageProcessor, tracker: Tracker) -> TurnResult:
        return processor.trigger_intent(
            tracker, intent=intent, entities=entities, sender_id=sender_id
        )

    try:
        return run_turn(
            sender_id=sender_id,
            assistant=assistant,
            step=step,
            verbosity=verbosity,
            route="trigger_intent",
        )
    except UnknownIntentError as exc:
        raise not_found(str(exc)) from None


def conversation_execute(
    *,
    sender_id: str,
    action_name: str,
    policy: str | None,
    confidence: float | None,
    verbosity: EventVerbosity,
    assistant: Assistant,
) -> Turn:
    """``POST /execute``: one action, nothing predicted after it."""
    if action_name not in assistant.domain.action_names_or_texts:
        raise not_found(f"The action '{action_name}' does not exist in the domain.")

    def step(processor: MessageProcessor, tracker: Tracker) -> TurnResult:
        return processor.execute_action(
            tracker,
            action_name=action_name,
            policy=policy,
            confidence=confidence,
            sender_id=sender_id,
        )

    try:
        return run_turn(
            sender_id=sender_id,
            assistant=assistant,
            step=step,
            verbosity=verbosity,
            must_exist=True,
            state_before_step=True,
            route="execute",
        )
    except UnknownActionError as exc:
        raise not_found(str(exc)) from None


def conversation_predict(*, sender_id: str, assistant: Assistant) -> dict[str, Any]:
    """``POST /predict``: scores for every action, best first; the session may be refreshed."""
    if not require_model(assistant).has_core:
        raise conflict("The loaded model has no dialogue policies to predict.")

    def step(processor: MessageProcessor, tracker: Tracker) -> TurnResult:
        return processor.predict_next(tracker, sender_id=sender_id)

    turn = run_turn(
        sender_id=sender_id, assistant=assistant, step=step, must_exist=True, route="predict"
    )
    prediction = turn.result.prediction
    if prediction is None:
        raise conflict("The policies made no prediction.")
    actions = assistant.domain.action_names_or_texts
    scores = [
        {"action": name, "score": score}
        for name, score in zip(actions, prediction.probabilities, strict=False)
    ]
    scores.sort(key=lambda item: (-item["score"], item["action"]))
    return {
        "scores": scores,
        "policy": prediction.policy_name,
        "confidence": prediction.confidence,
        "tracker": turn.state,
    }


def conversation_story(*, sender_id: str, all_sessions: bool, until: float | None) -> str:
    """``GET /story``: the conversation as YAML test stories."""
    conversation = store.conversation_get(sender_id=sender_id)
    if conversation is None:
        raise conversation_not_found()
    events = store.events_load(conversation)
    return write_test_stories(sender_id, events, all_sessions=all_sessions, until=until)


def webhook_message(
    *, sender_id: str, text: str, metadata: dict | None, input_channel: str, assistant: Assistant
) -> list[dict]:
    """The REST channel: like Rasa, a failing turn answers ``[]`` (and is logged).

    A turn refused for now (a busy conversation, a lock store down: the errors that carry
    ``Retry-After``) stored nothing, so it is answered as such for the client to retry.
    """
    with log_context(conversation_id=sender_id):  # the parse's lines and the failure's too
        try:
            turn = conversation_message(
                sender_id=sender_id,
                text=text,
                assistant=assistant,
                metadata=metadata,
                input_channel=input_channel,
            )
        except (EngineError, ServiceError) as exc:
            if isinstance(exc, ServiceError) and "Retry-After" in exc.headers:
                raise
            logger.exception("The turn of conversation '%s' failed", sender_id)
            return []
    return turn.messages


def callback_message(
    *, sender_id: str, text: str, metadata: dict | None, assistant: Assistant
) -> None:
    """The callback channel: the turn as over REST, its messages POSTed to the channel's URL."""
    messages = webhook_message(
        sender_id=sender_id,
        text=text,
        metadata=metadata,
        input_channel=CALLBACK_CHANNEL,
        assistant=assistant,
    )
    messages_push(sender_id=sender_id, input_channel=CALLBACK_CHANNEL, messages=messages)


def conversation_reminder(
    *, sender_id: str, reminder: ReminderScheduled, assistant: Assistant
) -> Turn:
    """A due reminder, judged and (if it still counts) triggered under the conversation's lock.

    ``turn.result.skipped`` says why a reminder that no longer counts did nothing.
    """

    def step(processor: MessageProcessor, tracker: Tracker) -> TurnResult:
        return processor.handle_reminder(tracker, reminder, sender_id=sender_id)

    return run_turn(
        sender_id=sender_id,
        assistant=assistant,
        step=step,
        verbosity=None,
        must_exist=True,
        route="reminder",
    )
