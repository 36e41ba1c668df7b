"""One conversation turn, as Rasa's MessageProcessor runs it.

Refresh the session, log the user message, extract slots, then predict and run actions
until the bot listens. Every method takes the tracker to work on, applies the new events
to it and returns them in a ``TurnResult``: the caller persists exactly those events.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.actions import Action, ActionContext, ActionRejected, action_for_name
from engine.actions.action_server import ActionServerClient, ActionServerError, HttpActionServer
from engine.actions.base import scratch_tracker
from engine.actions.defaults import ActionSessionStart
from engine.actions.extract_slots import ActionExtractSlots
from engine.endpoints import ActionEndpoint
from engine.errors import EngineError
from engine.events import (
    ACTION_LISTEN,
    ActionExecuted,
    ActionExecutionRejected,
    DefinePrevUserUtteredFeaturization,
    Event,
    ReminderCancelled,
    ReminderScheduled,
    SlotSet,
    UserUttered,
)
from engine.model import Model
from engine.output import COLLECTOR_CHANNEL, messages_for_events
from engine.policies import PolicyPrediction
from engine.reminders import reminder_outdated_reason
from engine.responses import ResponseRenderer
from engine.session import ACTION_SESSION_START, SESSION_STARTED_METADATA_SLOT
from engine.tracker import Tracker

logger = logging.getLogger(__name__)
RESTART_INTENT = "restart"
EXTERNAL_PREFIX = "EXTERNAL: "


class UnknownIntentError(EngineError):
    """``trigger_intent`` named an intent the domain does not have."""


class UnknownActionError(EngineError):
    """``execute_action`` named an action the domain does not have."""


@dataclass
class TurnResult:
    events: list[Event] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    reminders: list[ReminderScheduled] = field(default_factory=list)
    cancellations: list[ReminderCancelled] = field(default_factory=list)
    prediction: PolicyPrediction | None = None
    # Why the turn did nothing (a reminder that no longer counts); "" when it ran.
    skipped: str = ""


class _Turn:
    """The tracker being worked on plus what this turn added to it."""

    def __init__(self, tracker: Tracker, sender_id: str, channel: str | None, stamp: dict) -> None:
        self.tracker = tracker
        self.sender_id = sender_id
        self.channel = channel
        self.stamp = stamp
        self.events: list[Event] = []

    def log(self, event: Event, now: float) -> None:
        # Rasa tags every processed event with the model that produced it.
        missing = {k: v for k, v in self.stamp.items() if k not in event.metadata}
        if missing:
            event.metadata = {**event.metadata, **missing}
        event.timestamp = now
        self.tracker.update(event)
        self.events.append(event)

    def result(self, prediction: PolicyPrediction | None = None, skipped: str = "") -> TurnResult:
        return TurnResult(
            events=self.events,
            messages=messages_for_events(self.events),
            reminders=[e for e in self.events if isinstance(e, ReminderScheduled)],
            cancellations=[e for e in self.events if isinstance(e, ReminderCancelled)],
            prediction=prediction,
            skipped=skipped,
        )


class MessageProcessor:
    """Runs turns of conversations against one loaded model."""

    def __init__(
        self,
        model: Model,
        *,
        action_endpoint: ActionEndpoint | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        max_predictions: int = 10,
        action_server: ActionServerClient | None = None,
    ) -> None:
        self.model = model
        self.domain = model.domain
        self.clock = clock
        self.max_predictions = max_predictions
        self.renderer = ResponseRenderer(self.domain, rng)
        if action_server is None and action_endpoint is not None:
            action_server = HttpActionServer(action_endpoint)
        self.action_server = action_server
        self._stamp = {"model_id": model.model_id}
        if model.metadata.get("assistant_id"):
            self._stamp["assistant_id"] = model.metadata["assistant_id"]

    # -- public turns ------------------------------------------------------------------
    def handle_message(
        self,
        tracker: Tracker,
        *,
        text: str,
        sender_id: str,
        input_channel: str | None = "rest",
        metadata: dict | None = None,
        message_id: str | None = None,
        parse_data: dict | None = None,
        output_channel: str | None = COLLECTOR_CHANNEL,
    ) -> TurnResult:
        """A user message: the full turn until the bot listens again."""
        turn = self._turn(tracker, sender_id, output_channel)
        self._log_user_message(turn, text, input_channel, metadata, message_id, parse_data)
        if self.model.has_core:
            self._prediction_loop(turn)
        return turn.result()

    def log_message(
        self,
        tracker: Tracker,
        *,
        text: str,
        sender_id: str,
        parse_data: dict | None = None,
        metadata: dict | None = None,
        input_channel: str | None = None,
        message_id: str | None = None,
    ) -> TurnResult:
        """Record a user message and its slots without predicting anything."""
        turn = self._turn(tracker, sender_id, COLLECTOR_CHANNEL)
        self._log_user_message(turn, text, input_channel, metadata, message_id, parse_data)
        return turn.result()

    def trigger_intent(
        self,
        tracker: Tracker,
        *,
        intent: str,
        entities: list[dict] | dict | None,
        sender_id: str,
        output_channel: str | None = COLLECTOR_CHANNEL,
    ) -> TurnResult:
        """An external event as if the user had sent ``intent`` (also how reminders fire)."""
        if intent not in self.domain.intents:
            raise UnknownIntentError(f"The intent '{intent}' does not exist in the domain.")
        turn = self._turn(tracker, sender_id, output_channel)
        self._refresh(turn, None)
        self._trigger(turn, intent, entities)
        return turn.result()

    def execute_action(
        self,
        tracker: Tracker,
        *,
        action_name: str,
        policy: str | None,
        confidence: float | None,
        sender_id: str,
        output_channel: str | None = COLLECTOR_CHANNEL,
    ) -> TurnResult:
        """Run one action as if ``policy`` had predicted it; nothing is predicted after it."""
        if action_name not in self.domain.action_names_or_texts:
            raise UnknownActionError(f"The action '{action_name}' does not exist in the domain.")
        turn = self._turn(tracker, sender_id, output_channel)
        self._refresh(turn, None)
        prediction = self._forced(action_name, policy, confidence)
        self._run_action(turn, action_for_name(action_name, self.domain), prediction)
        return turn.result()

    def predict_next(self, tracker: Tracker, *, sender_id: str) -> TurnResult:
        """The scores for the next action, without running it (the session may be refreshed)."""
        turn = self._turn(tracker, sender_id, COLLECTOR_CHANNEL)
        self._refresh(turn, None)
        return turn.result(self._predict(tracker, consume_followup=False))

    def refresh_session(
        self, tracker: Tracker, *, metadata: dict | None = None, sender_id: str | None = None
    ) -> list[Event]:
        """Start a session if none is running or the last one expired; the events it added."""
        turn = self._turn(tracker, sender_id or tracker.sender_id, COLLECTOR_CHANNEL)
        self._refresh(turn, metadata)
        return turn.events

    def handle_reminder(
        self, tracker: Tracker, reminder: ReminderScheduled, *, sender_id: str
    ) -> TurnResult:
        """A due reminder: triggers its intent unless it no longer counts (``result.skipped``)."""
        if reminder.intent not in self.domain.intents:
            raise UnknownIntentError(
                f"The intent '{reminder.intent}' does not exist in the domain."
            )
        turn = self._turn(tracker, sender_id, COLLECTOR_CHANNEL)
        self._refresh(turn, None)
        reason = reminder_outdated_reason(tracker, reminder)
        if reason:
            logger.debug("reminder '%s' for '%s': %s", reminder.name, sender_id, reason)
            return turn.result(skipped=reason)
        self._trigger(turn, reminder.intent, reminder.entities)
        return turn.result()

    # -- steps ---------------------------------------------------------------------------
    def _turn(self, tracker: Tracker, sender_id: str, channel: str | None) -> _Turn:
        return _Turn(tracker, sender_id, channel, self._stamp)

    def _log(self, turn: _Turn, event: Event) -> None:
        turn.log(event, self.clock())

    def _refresh(self, turn: _Turn, metadata: dict | None) -> None:
        if turn.tracker.has_applied_events() and not self._session_expired(turn.tracker):
            return
        if metadata:
            self._log(turn, SlotSet(SESSION_STARTED_METADATA_SLOT, metadata))
        prediction = self._forced(ACTION_SESSION_START, None, 1.0)
        self._run_action(turn, ActionSessionStart(), prediction)

    def _session_expired(self, tracker: Tracker) -> bool:
        minutes = self.domain.session_expiration_time
        last_user = tracker.latest_user_event_time
        if not minutes or minutes <= 0 or last_user is None:
            return False
        return (self.clock() - last_user) / 60 > minutes

    def _log_user_message(
        self,
        turn: _Turn,
        text: str,
        input_channel: str | None,
        metadata: dict | None,
        message_id: str | None,
        parse_data: dict | None,
    ) -> None:
        self._refresh(turn, metadata)
        message_id = message_id or uuid.uuid4().hex
        parsed = parse_data if parse_data is not None else self.model.parse(text, message_id)
        user = UserUttered(
            text,
            parsed.get("intent"),
            parsed.get("entities"),
            parsed,
            input_channel=input_channel,
            message_id=message_id,
            metadata=metadata,
        )
        self._log(turn, user)
        self._extract_slots(turn)

    def _trigger(self, turn: _Turn, intent: str, entities: list[dict] | dict | None) -> None:
        if isinstance(entities, dict):
            entities = [{"entity": key, "value": value} for key, value in entities.items()]
        user = UserUttered(
            f"{EXTERNAL_PREFIX}{intent}",
            {"name": intent},
            entities if isinstance(entities, list) else [],
            metadata={"is_external": True},
            input_channel=turn.tracker.latest_input_channel,
        )
        self._log(turn, user)
        self._extract_slots(turn)
        if self.model.has_core:
            self._prediction_loop(turn)

    def _extract_slots(self, turn: _Turn) -> None:
        events, _ = self._safe_run(turn, ActionExtractSlots(), self._context(turn, None))
        for event in events:
            self._log(turn, event)

    def _prediction_loop(self, turn: _Turn) -> None:
        keep_going = True
        while keep_going and _should_handle(turn.tracker):
            if self._action_limit_reached(turn.tracker):
                logger.warning("circuit breaker tripped for '%s': too many actions", turn.sender_id)
                break
            prediction = self._predict(turn.tracker, consume_followup=True)
            if prediction is None or prediction.action_name is None:
                break
            action = action_for_name(prediction.action_name, self.domain)
            keep_going = self._run_action(turn, action, prediction, featurize=True)

    def _action_limit_reached(self, tracker: Tracker) -> bool:
        # Rasa's guard: actions since the bot last listened, counted on the log itself.
        count = 0
        for event in reversed(tracker.events):
            if isinstance(event, ActionExecuted):
                if event.action_name in (ACTION_LISTEN, ACTION_SESSION_START):
                    break
                count += 1
        return count >= self.max_predictions

    def _predict(self, tracker: Tracker, *, consume_followup: bool) -> PolicyPrediction | None:
        followup = tracker.followup_action
        if followup:
            if consume_followup:
                tracker.followup_action = None
            if followup in self.domain.action_names_or_texts:
                return self._forced(followup, None, 1.0)
            logger.error("unknown follow-up action '%s' is ignored", followup)
        return self.model.predict(tracker)

    def _forced(self, name: str, policy: str | None, confidence: float | None) -> PolicyPrediction:
        names = list(self.domain.action_names_or_texts)
        scores = [0.0] * len(names)
        if name in names:
            scores[names.index(name)] = 1.0 if confidence is None else confidence
        prediction = PolicyPrediction(scores, policy, 0.0, action_names=names)
        prediction.confidence = confidence  # type: ignore[assignment]
        return prediction

    def _context(self, turn: _Turn, prediction: PolicyPrediction | None) -> ActionContext:
        return ActionContext(
            tracker=turn.tracker,
            domain=self.domain,
            renderer=self.renderer,
            sender_id=turn.sender_id,
            output_channel=turn.channel,
            action_metadata=prediction.action_metadata if prediction else None,
            server=self.action_server,
            lookup=lambda name: action_for_name(name, self.domain),
        )

    def _run_action(
        self,
        turn: _Turn,
        action: Action,
        prediction: PolicyPrediction,
        *,
        featurize: bool = False,
    ) -> bool:
        """Run ``action`` and log it; whether the loop should predict another action."""
        policy_events = self._policy_events(turn.tracker, prediction, featurize)
        ctx = self._context(turn, prediction)
        if policy_events:
            # The action sees the policy's events, which are only logged if it runs.
            ctx = ctx.with_tracker(scratch_tracker(ctx, policy_events))
        try:
            events, failure = self._safe_run(turn, action, ctx, reraise_rejection=True)
        except ActionRejected:
            rejected = ActionExecutionRejected(
                action.name, prediction.policy_name, prediction.confidence
            )
            self._log(turn, rejected)
            return action.name not in (ACTION_LISTEN, ACTION_SESSION_START)
        if not any(isinstance(e, ActionExecutionRejected) for e in events):
            for event in policy_events:
                self._log(turn, event)
            executed = self._action_event(action, prediction)
            executed.failure = failure
            self._log(turn, executed)
        for event in events:
            self._log(turn, event)
        if any(isinstance(e, UserUttered) for e in events):
            self._extract_slots(turn)
        return action.name not in (ACTION_LISTEN, ACTION_SESSION_START)

    def _policy_events(
        self, tracker: Tracker, prediction: PolicyPrediction, featurize: bool
    ) -> list[Event]:
        """The prediction's events, plus Rasa's note of how the user message was featurized."""
        events = list(prediction.events or [])
        noted = any(isinstance(e, DefinePrevUserUtteredFeaturization) for e in events)
        if featurize and tracker.latest_action_name == ACTION_LISTEN and not noted:
            events.append(
                DefinePrevUserUtteredFeaturization(bool(prediction.is_end_to_end_prediction))
            )
        return events

    def _safe_run(
        self,
        turn: _Turn,
        action: Action,
        ctx: ActionContext,
        *,
        reraise_rejection: bool = False,
    ) -> tuple[list[Event], str | None]:
        """The action's events and why it failed (None: it did not); a failure is logged
        and the conversation goes on without the action's events, as in Rasa."""
        try:
            return action.run(ctx), None
        except ActionRejected:
            if reraise_rejection:
                raise
            return [], None
        except ActionServerError as exc:
            logger.error(
                "custom action '%s' failed for sender '%s'; its events are dropped: %s",
                action.name,
                turn.sender_id,
                exc,
            )
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - Rasa keeps the conversation going, events lost
            logger.exception(
                "action '%s' failed for sender '%s'; its events are dropped",
                action.name,
                turn.sender_id,
            )
            reason = f"{type(exc).__name__}: {exc}"
        return [], reason

    def _action_event(self, action: Action, prediction: PolicyPrediction) -> ActionExecuted:
        is_text = action.name in self.domain.action_texts and not action.name.startswith("utter_")
        return ActionExecuted(
            None if is_text else action.name,
            prediction.policy_name,
            prediction.confidence,
            metadata=dict(prediction.action_metadata or {}),
            action_text=action.name if is_text else None,
            hide_rule_turn=bool(prediction.hide_rule_turn),
        )


def _should_handle(tracker: Tracker) -> bool:
    """A paused conversation only reacts to a restart."""
    if not tracker.paused:
        return True
    message = tracker.latest_message
    return message is not None and message.intent_name == RESTART_INTENT
