"""Conversation events: the append-only facts a tracker is derived from.

Each class mirrors one Rasa 3.x event type and serialises to Rasa's JSON shape
exactly, because clients and action servers read these dicts directly.
Constructors take Rasa's positional argument order so calling code reads alike.
Equality ignores timestamps (and usually metadata) the way Rasa's does, so that
comparing a replayed conversation with a stored one works.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from engine.errors import EventsValidationError

ACTION_LISTEN = "action_listen"


class Event:
    """Base event: a type name, a timestamp and free-form metadata."""

    type_name: ClassVar[str] = "event"

    def __init__(self, timestamp: float | None = None, metadata: dict | None = None) -> None:
        self.timestamp: float = time.time() if timestamp is None else float(timestamp)
        self.metadata: dict = dict(metadata) if metadata else {}

    def to_dict(self) -> dict:
        """Rasa's JSON form of the event (metadata only when non-empty, by default)."""
        data: dict[str, Any] = {"event": self.type_name, "timestamp": self.timestamp}
        if self.metadata:
            data["metadata"] = self.metadata
        data.update(self._fields())
        return data

    def as_dict(self) -> dict:
        """Rasa's method name for :meth:`to_dict`."""
        return self.to_dict()

    def _fields(self) -> dict:
        return {}

    def _eq_key(self) -> tuple:
        return ()

    @classmethod
    def _from_params(cls, data: dict) -> Event:
        return cls(data.get("timestamp"), data.get("metadata"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event) or other.type_name != self.type_name:
            return NotImplemented
        return self._eq_key() == other._eq_key()

    def __hash__(self) -> int:
        return hash((self.type_name, json.dumps(self._eq_key(), sort_keys=True, default=str)))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._fields().items())
        return f"{type(self).__name__}({fields})"


def _without_nones(data: dict | None) -> str:
    return json.dumps({k: v for k, v in (data or {}).items() if v is not None}, sort_keys=True)


class UserUttered(Event):
    """The user said something; its NLU result lives in ``parse_data``."""

    type_name = "user"

    def __init__(
        self,
        text: str | None = None,
        intent: dict | None = None,
        entities: list[dict] | None = None,
        parse_data: dict | None = None,
        timestamp: float | None = None,
        input_channel: str | None = None,
        message_id: str | None = None,
        metadata: dict | None = None,
        use_text_for_featurization: bool | None = None,
    ) -> None:
        super().__init__(timestamp, metadata)
        self.text = text
        self.intent: dict = intent if intent else {}
        self.entities: list[dict] = list(entities) if entities else []
        self.input_channel = input_channel
        self.message_id = message_id
        self.use_text_for_featurization = use_text_for_featurization
        if self.text and not self.intent_name:
            self.use_text_for_featurization = True
        elif self.intent_name and not self.text:
            self.use_text_for_featurization = False
        self.parse_data: dict = {
            "intent": self.intent,
            "entities": list(self.entities),
            "text": self.text,
            "message_id": self.message_id,
            "metadata": self.metadata,
        }
        if parse_data:
            self.parse_data.update(parse_data)

    @property
    def intent_name(self) -> str | None:
        return self.intent.get("name")

    @property
    def full_retrieval_intent_name(self) -> str | None:
        return self.intent.get("full_retrieval_intent_name")

    def is_empty(self) -> bool:
        return not self.text and not self.intent_name and not self.entities

    @classmethod
    def empty(cls) -> UserUttered:
        return cls(None)

    def _fields(self) -> dict:
        return {
            "text": self.text,
            "parse_data": self.parse_data,
            "input_channel": self.input_channel,
            "message_id": self.message_id,
            "metadata": self.metadata,
        }

    def _eq_key(self) -> tuple:
        ents = [json.dumps(sorted(e), sort_keys=True) for e in self.entities]
        return (self.text, self.intent_name, ents)

    @classmethod
    def _from_params(cls, data: dict) -> Event:
        parse_data = data.get("parse_data") or {}
        if not isinstance(parse_data, dict):
            raise EventsValidationError("'parse_data' of a 'user' event must be an object.")
        return cls(
            data.get("text"),
            parse_data.get("intent"),
            parse_data.get("entities") or [],
            parse_data,
            data.get("timestamp"),
            data.get("input_channel"),
            data.get("message_id"),
            data.get("metadata"),
        )

    def copy(self) -> UserUttered:
        """A deep copy, so that adding entities to the tracker's view never edits the log."""
        return copy.deepcopy(self)


class DefinePrevUserUtteredFeaturization(Event):
    """Records whether the text or the intent of the last message drove prediction."""

    type_name = "user_featurization"

    def __init__(
        self,
        use_text_for_featurization: bool,
        timestamp: float | None = None,
        metadata: dict | None = None,
    ) -> None:
        super().__init__(timestamp, metadata)
        self.use_text_for_featurization = use_text_for_featurization

    def _fields(self) -> dict:
        return {"use_text_for_featurization": self.use_text_for_featurization}

    def _eq_key(self) -> tuple:
        return (self.use_text_for_featurization,)

    @classmethod
    def _from_params(cls, data: dict) -> Event:
        return cls(
            data.get("use_text_for_featurization"), data.get("timestamp"), data.get("metadata")
        )


UserUtteranceFeaturization = DefinePrevUserUtteredFeaturization


class EntitiesAdded(Event):
    """Entities found after the fact (e.g. by a policy) for the latest message."""

    type_name = "entities"

    def __init__(
        self, entities: list[dict], timestamp: float | None = None, metadata: dict | None = None
    ) -> None:
        super().__init__(timestamp, metadata)
        self.entities = entities if entities is not None else []

    def _fields(self) -> dict:
        return {"entities": self.entities}

    def _eq_key(self) -> tuple:
        return (self.entities,)

    @classmethod
    def _from_params(cls, data: dict) -> Event:
        return cls(data.get("entities"), data.get("timestamp"), data.get("metadata"))


class BotUttered(Event):
    """The bot said something (text plus rich ``data``: buttons, image, custom...)."""

    type_name = "bot"

    def __init__(
        self,
        text: str | None = None,
        data: dict | None = None,
        metadata: dict | None = None,
        timestamp: float | None = None,
    ) -> None:
        super().__init__(timestamp, metadata)
        self.text = text
        self.data: dict = data or {}

    def _fields(self) -> dict:
        return {"text": self.text, "data": self.data, "metadata": self.metadata}

    def _eq_key(self) -> tuple:
        return (self.text, _without_nones(self.data), _without_nones(self.metadata))

    def message(self) -> dict:
        """The message as sent to an output channel."""
        msg = dict(self.data)
        msg["text"] = self.text
        msg["timestamp"] = self.timestamp
        msg.update(self.metadata)
        if msg.get("image") == msg.get("attachment"):
            msg["attachment"] = None
        return msg

    @classmethod
    def empty(cls) -> BotUttered:
        return cls()

    @classmethod
    def _from_params(cls, data: dict) -> Event:
        return cls(data.get("text"), data.get("data"), data.get("metadata"), data.get("timestamp"))


class SlotSet(Event):
    """A slot got a value."""

    type_name = "slot"

    def __init__(
        self,
        key: str,
        value: Any = None,
        timestamp: float | None = None,
        metadata: dict | None = None,
    ) -> None:
        super().__init__(timestamp, metadata)
        self.key = key
        self.value = value

    @property
    def name(self) -> str:
        return self.key

    def _fields(self) -> dict:
        return {"name": self.key, "value": self.value}

    def _eq_key(self) -> tuple:
        return (self.key, self.value)

    @classmethod
    def _from_params(cls, data: dict) -> Event:
        return cls(data.get("name"), data.get("value"), data.get("timestamp"), data.get("metadata"))


class Restarted(Event):
    """Conversation starts over: state is wiped, the log is kept."""

    type_name = "restart"


class UserUtteranceReverted(Event):
    """Undo the latest user message and everything after it."""

    type_name = "rewind"


class ActionReverted(Event):
    """Undo the latest action and everything after it."""

    type_name = "undo"


class AllSlotsReset(Event):
    """Every slot back to its initial value."""

    type_name = "reset_slots"


class SessionStarted(Event):
    """A new conversation session begins: state is reset."""

    type_name = "session_started"


class ConversationPaused(Event):
    """A human takes over: no actions are predicted."""

    type_name = "pause"


class ConversationResumed(Event):
    """The bot takes over again."""

    type_name = "resume"


class ReminderScheduled(Event):
    """Trigger ``intent`` at ``trigger_date_time`` unless cancelled."""

    type_name = "reminder"

    def __init__(
        self,
        intent: str,
        trigger_date_time: datetime,
        entities: list[dict] | None = None,
        name: str | None = None,
        kill_on_user_message: bool = True,
        timestamp: float | None = None,
        metadata: dict | None = None,
    ) -> None:
        super().__init__(timestamp, metadata)
        self.intent = intent
        self.trigger_date_time = trigger_date_time
        self.entities = entities
        self.name = name if name is not None else str(uuid.uuid1())
        self.kill_on_user_message = kill_on_user_message

    def _fields(self) -> dict:
        return {
            "intent": self.intent,
            "date_time": self.trigger_date_time.isoformat(),
            "entities": self.entities,
            "name": self.name,
            "kill_on_user_msg": self.kill_on_user_message,
        }

    def _eq_key(self) -> tuple:
        return (self.name,)

    @classmethod
    def _from_params(cls, data: dict) -> Event:
        raw = data.get("date_time")
        try:
            when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError as exc:
            raise EventsValidationError(
                f"'date_time' of a 'reminder' event is not an ISO-8601 date: {raw!r}."
            ) from exc
        return cls(
            data.get("intent"),
            when,
            data.get("entities"),
            name=data.get("name"),
            kill_on_user_message=data.get("kill_on_user_msg", True),
            timestamp=data.get("timestamp"),
            metadata=data.get("metadata"),
        )


class ReminderCancelled(Event):
    """Cancel reminders matching name / intent / entities (all None: every one)."""

    type_name = "cancel_reminder"

    def __init__(
        self,
        name: str | None = None,
        intent: str | None = None,
        entities: list[dict] | None = None,
        timestamp: float | None = None,
        metadata: dict | None = None,
    ) -> None:
        super().__init__(timestamp, metadata)
        self.name = name
        self.intent = intent
        self.entities = entities

    def _fields(self) -> dict:
        # Rasa serialises none of these (so a stored cancel forgets what it matched);
        # we keep them so that the log stays the truth.
        return {"name": self.name, "intent": self.intent, "entities": self.entities}

    def _eq_key(self) -> tuple:
        return (self.name, self.intent, str(self.entities))

    @classmethod
    def _from_params(cls, data: dict) -> Event:
        return cls(
            data.get("name"),
            data.get("intent"),
            data.get("entities"),
            timestamp=data.get("timestamp"),
            metadata=data.get("metadata"),
        )


class StoryExported(Event):
    """Write the conversation as stories to ``path``."""

    type_name = "export"

    def __init__(
        self, path: str | None = None, timestamp: float | None = None, metadata: dict | None = None
    ) -> None:
        super().__init__(timestamp, metadata)
        self.path = path

    def _fields(self) -> dict:
        # Rasa drops the path when serialising; we keep it when there is one.
        return {"path": self.path} if self.path is not None else {}

    def _eq_key(self) -> tuple:
        return (self.path,)

    @classmethod
    def _from_params(cls, data: dict) -> Event:
        return cls(data.get("path"), data.get("timestamp"), data.get("metadata"))


class FollowupAction(Event):
    """Force the next predicted action."""

    type_name = "followup"

    def __init__(
        self, name: str, timestamp: float | None = None, metadata: dict | None = None
    ) -> None:
        super().__init__(timestamp, metadata)
        self.action_name = name

    def _fields(self) -> dict:
        return {"name": self.action_name}

    def _eq_key(self) -> tuple:
        return (self.action_name,)

    @classmethod
    def _from_params(cls, data: dict) -> Event:
        return cls(data.get("name"), data.get("timestamp"), data.get("metadata"))


class ActionExecuted(Event):
    """An action ran (``action_name``), or an end-to-end bot text was predicted."""

    type_name = "action"
    # Why the action failed (no action server, a timeout, an error answer), or None. Not
    # part of the event's JSON: Rasa has no such field, so trackers and brokers never see
    # it; the store keeps it in a column of its own for the reviewer's transcript.
    failure: str | None = None

    def __init__(
        self,
        action_name: str | None = None,
        policy: str | None = None,
        confidence: float | None = None,
        timestamp: float | None = None,
        metadata: dict | None = None,
        action_text: str | None = None,
        hide_rule_turn: bool = False,
    ) -> None:
        if action_name is None and action_text is None:
            raise EventsValidationError(
                "An 'action' event needs either a 'name' or an 'action_text'."
            )
        super().__init__(timestamp, metadata)
        self.action_name = action_name
        self.policy = policy
        self.confidence = confidence
        self.action_text = action_text
        self.hide_rule_turn = hide_rule_turn

    def _fields(self) -> dict:
        return {
            "name": self.action_name,
            "policy": self.policy,
            "confidence": self.confidence,
            "action_text": self.action_text,
            "hide_rule_turn": self.hide_rule_turn,
        }

    def _eq_key(self) -> tuple:
        return (self.action_name, self.action_text, _without_nones(self.metadata))

    def as_sub_state(self) -> dict:
        """``latest_action`` form: the name when there is one, else the e2e text."""
        if self.action_name:
            return {"action_name": self.action_name}
        return {"action_text": self.action_text}

    @classmethod
    def _from_params(cls, data: dict) -> Event:
        return cls(
            data.get("name"),
            data.get("policy"),
            data.get("confidence"),
            data.get("timestamp"),
            data.get("metadata"),
            data.get("action_text"),
            data.get("hide_rule_turn", False),
        )


class AgentUttered(Event):
    """Legacy agent message; no effect on state."""

    type_name = "agent"

    def __init__(
        self,
        text: str | None = None,
        data: Any = None,
        timestamp: float | None = None,
        metadata: dict | None = None,
    ) -> None:
        super().__init__(timestamp, metadata)
        self.text = text
        self.data = data

    def _fields(self) -> dict:
        return {"text": self.text, "data": self.data}

    def _eq_key(self) -> tuple:
        return (self.text, json.dumps(self.data, sort_keys=True, default=str))

    @classmethod
    def _from_params(cls, data: dict) -> Event:
        return cls(data.get("text"), data.get("data"), data.get("timestamp"), data.get("metadata"))


class ActiveLoop(Event):
    """Activate loop ``name`` (a form), or deactivate the active one when None."""

    type_name = "active_loop"

    def __init__(
        self, name: str | None, timestamp: float | None = None, metadata: dict | None = None
    ) -> None:
        super().__init__(timestamp, metadata)
        self.name = name

    def _fields(self) -> dict:
        return {"name": self.name}

    def _eq_key(self) -> tuple:
        return (self.name,)

    @classmethod
    def _from_params(cls, data: dict) -> Event:
        return cls(data.get("name"), data.get("timestamp"), data.get("metadata"))


class LoopInterrupted(Event):
    """The active loop was interrupted (an unhappy path) or resumed."""

    type_name = "loop_interrupted"

    def __init__(
        self, is_interrupted: bool, timestamp: float | None = None, metadata: dict | None = None
    ) -> None:
        super().__init__(timestamp, metadata)
        self.is_interrupted = is_interrupted

    def _fields(self) -> dict:
        return {"is_interrupted": self.is_interrupted}

    def _eq_key(self) -> tuple:
        return (self.is_interrupted,)

    @classmethod
    def _from_params(cls, data: dict) -> Event:
        return cls(data.get("is_interrupted", False), data.get("timestamp"), data.get("metadata"))


class ActionExecutionRejected(Event):
    """An action (usually a form) refused to run."""

    type_name = "action_execution_rejected"

    def __init__(
        self,
        action_name: str,
        policy: str | None = None,
        confidence: float | None = None,
        timestamp: float | None = None,
        metadata: dict | None = None,
    ) -> None:
        super().__init__(timestamp, metadata)
        self.action_name = action_name
        self.policy = policy
        self.confidence = confidence

    def _fields(self) -> dict:
        return {"name": self.action_name, "policy": self.policy, "confidence": self.confidence}

    def _eq_key(self) -> tuple:
        return (self.action_name,)

    @classmethod
    def _from_params(cls, data: dict) -> Event:
        return cls(
            data.get("name"),
            data.get("policy"),
            data.get("confidence"),
            data.get("timestamp"),
            data.get("metadata"),
        )


EVENT_CLASSES: dict[str, type[Event]] = {
    cls.type_name: cls
    for cls in (
        UserUttered,
        DefinePrevUserUtteredFeaturization,
        EntitiesAdded,
        BotUttered,
        SlotSet,
        Restarted,
        UserUtteranceReverted,
        ActionReverted,
        AllSlotsReset,
        SessionStarted,
        ConversationPaused,
        ConversationResumed,
        ReminderScheduled,
        ReminderCancelled,
        StoryExported,
        FollowupAction,
        ActionExecuted,
        AgentUttered,
        ActiveLoop,
        LoopInterrupted,
        ActionExecutionRejected,
    )
}
# Old names Rasa still reads; they are written back under the new names.
LEGACY_TYPES = ("form", "form_validation", "topic")
EVENT_TYPE_NAMES = tuple(EVENT_CLASSES) + LEGACY_TYPES


def event_from_dict(data: dict) -> Event | None:
    """Build the event a Rasa JSON dict describes (None for the ignored legacy ``topic``)."""
    if not isinstance(data, dict):
        raise EventsValidationError(f"An event must be a JSON object, got {type(data).__name__}.")
    type_name = data.get("event")
    if type_name == "topic":
        return None
    if type_name == "form":
        return ActiveLoop._from_params(data)
    if type_name == "form_validation":
        return LoopInterrupted(
            not data.get("validate", True), data.get("timestamp"), data.get("metadata")
        )
    cls = EVENT_CLASSES.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise EventsValidationError(f"Unknown event type {type_name!r}.")
    try:
        return cls._from_params(data)
    except (TypeError, ValueError, AttributeError) as exc:
        raise EventsValidationError(f"Invalid '{type_name}' event: {exc}") from exc


def events_from_dicts(items: Iterable[dict]) -> list[Event]:
    """Deserialise a list of event dicts, dropping ignored legacy events."""
    events = (event_from_dict(item) for item in items)
    return [event for event in events if event is not None]


def events_to_dicts(events: Iterable[Event]) -> list[dict]:
    return [event.to_dict() for event in events]
