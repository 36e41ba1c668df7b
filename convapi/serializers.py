"""Every request body and query parameter of the API, declared once.

Each serializer here both validates its input (through ``validated``, which turns the
first error into Rasa's 400 body) and documents it in the OpenAPI schema. The fields
read input the way Rasa reads it (API.md conventions): strings are never coerced, a
boolean query parameter is true only for the exact string ``true``, an unreadable float
query parameter counts as not given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.settings import api_settings

from convapi.params import unstorable_text
from engine.emulators import EMULATORS
from engine.errors import EventsValidationError, bad_request
from engine.schema import validate_events
from engine.tracker import EventVerbosity
from jobs.stages import stage

# --- running a serializer --------------------------------------------------------------


@stage("body")
def validated(serializer_class: type[serializers.Serializer], data: Any, *, location: str = "body"):
    """The serializer's validated data, or a 400 naming the first field it refused.

    An error that belongs to no field (the body is not an object, say) names the
    serializer's ``error_parameter``.
    """
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return serializer.validated_data
    field, message = _first_error(serializer.errors)
    if field == api_settings.NON_FIELD_ERRORS_KEY:
        field = getattr(serializer_class, "error_parameter", "")
    raise bad_request(message, parameter=field, location=location)


def _first_error(errors: Any, field: str = "") -> tuple[str, str]:
    if isinstance(errors, Mapping):
        name, nested = next(iter(errors.items()))
        return _first_error(nested, field or str(name))
    if isinstance(errors, list) and errors:
        return _first_error(errors[0], field)
    return field, str(errors)


def all_messages(message: str, *codes: str) -> dict[str, str]:
    """One wording for every way a field can be wrong (Rasa words each field once)."""
    return dict.fromkeys(("required", "null", "invalid", "blank", *codes), message)


# --- fields read as Rasa reads them -----------------------------------------------------


class StrictCharField(serializers.CharField):
    """A JSON string, never a number coerced to one, kept exactly as sent."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class UnitIntervalField(serializers.FloatField):
    """A JSON number from 0 to 1 (a boolean or a numeric string is refused)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=0, max_value=1, **kwargs)

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.BOOL)
class FlagField(serializers.Field):
    """A boolean query parameter: true only for the exact (case-insensitive) ``true``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> bool:
        return str(data).lower() == "true"


@extend_schema_field(OpenApiTypes.NUMBER)
class LenientFloatField(serializers.Field):
    """A finite float query parameter; anything unreadable counts as not given (None)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", None)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> float | None:
        try:
            value = float(data)
        except (TypeError, ValueError, OverflowError):
            return None
        return value if math.isfinite(value) else None


@extend_schema_field(OpenApiTypes.INT)
class LenientIntegerField(serializers.Field):
    """An integer query parameter; anything unreadable counts as the default."""

    def __init__(self, *, default: int, **kwargs: Any) -> None:
        super().__init__(required=False, default=default, **kwargs)
        self.fallback = default

    def to_internal_value(self, data: Any) -> int:
        try:
            return int(data)
        except (TypeError, ValueError):
            return self.fallback


@extend_schema_field(OpenApiTypes.STR)
class AnyValueField(serializers.Field):
    """Documented as a string, taken as sent (null too): the serializer's ``validate``
    decides, so a wrong value gets the route's own wording."""

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            return (True, None)
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> Any:
        return data


@extend_schema_field(OpenApiTypes.OBJECT)
class AnyJsonField(AnyValueField):
    """Documented as an object, taken as sent."""


@extend_schema_field(OpenApiTypes.STR)
class QueryStringField(serializers.Field):
    """A query parameter read as the raw string it is."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        return str(data)


ENTITIES_MESSAGE = "'entities' must be a list of entity objects or an object of names and values."


@extend_schema_field(
    {
        "oneOf": [
            {"type": "object", "additionalProperties": True},
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"entity": {"type": "string"}},
                    "required": ["entity"],
                },
            },
        ]
    }
)
class EntitiesField(serializers.Field):
    """Entities to set: a list of ``{"entity": name, ...}``, or an object of names to values."""

    default_error_messages = all_messages(ENTITIES_MESSAGE)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) or (
            isinstance(data, list)
            and all(isinstance(item, dict) and isinstance(item.get("entity"), str) for item in data)
        ):
            return data
        self.fail("invalid")


# --- bodies -----------------------------------------------------------------------------


class BodySerializer(serializers.Serializer):
    """A JSON object body. ``error_parameter`` is what an error about the whole body names;
    ``allow_empty_body`` says whether ``{}`` (or no body) is read as an object."""

    error_parameter = ""
    allow_empty_body = True
    default_error_messages = {"invalid": "The request body must be a JSON object."}

    def run_validation(self, data: Any = empty) -> Any:
        if not isinstance(data, dict) or (not data and not self.allow_empty_body):
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: [self.error_messages["invalid"]]},
                code="invalid",
            )
        return super().run_validation(data)


class MessageTextField(StrictCharField):
    """A user's message, at most ``CONVAPI_MAX_MESSAGE_CHARS`` characters (0: any length):
    every tokenizer and featurizer pays for each character, before any lock is taken."""

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        limit = settings.CONVAPI_MAX_MESSAGE_CHARS
        if limit and len(text) > limit:
            raise serializers.ValidationError(
                f"'{self.field_name}' is longer than {limit} characters "
                "(CONVAPI_MAX_MESSAGE_CHARS)."
            )
        return text


NON_EMPTY_OBJECT = "The request body must be a non-empty JSON object."
ONLY_USER_MESSAGES = (
    "Currently, only user messages can be passed to this endpoint. "
    "Messages of sender 'user' are supported."
)


class MessageSerializer(BodySerializer):
    """``POST /conversations/{id}/messages``: a user message to log (no prediction)."""

    allow_empty_body = False
    default_error_messages = {"invalid": NON_EMPTY_OBJECT}

    sender = serializers.ChoiceField(
        choices=["user"],
        error_messages=all_messages(ONLY_USER_MESSAGES, "invalid_choice"),
    )
    parse_data = serializers.DictField(
        required=False,
        allow_null=True,
        default=None,
        error_messages={"not_a_dict": "'parse_data' must be an object."},
    )
    text = MessageTextField(
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        error_messages=all_messages("'text' must be a non-empty string."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["parse_data"] is None and not attrs["text"]:
            raise serializers.ValidationError({"text": self.fields["text"].error_messages["blank"]})
        attrs["text"] = attrs["text"] or ""
        # Stored as a user event, so it must pass the events schema too (an intent name
        # that is not a string would be stored and break every later read).
        event: dict[str, Any] = {"event": "user", "text": attrs["text"]}
        if attrs["parse_data"] is not None:
            event["parse_data"] = attrs["parse_data"]
        try:
            validate_events(event)
        except EventsValidationError as exc:
            raise serializers.ValidationError(
                {"parse_data": f"'parse_data' is not valid. {exc}"}
            ) from None
        return attrs


class ExecuteSerializer(BodySerializer):
    """``POST /conversations/{id}/execute``: the action to run, as a given policy chose it."""

    error_parameter = "name"
    default_error_messages = {"invalid": "Name of the action not provided in request body."}

    name = StrictCharField(error_messages=all_messages("'name' must be a non-empty string."))
    policy = StrictCharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        error_messages=all_messages("'policy' must be a non-empty string."),
    )
    confidence = UnitIntervalField(
        required=False,
        allow_null=True,
        default=None,
        error_messages=all_messages(
            "'confidence' must be a number between 0 and 1.",
            "min_value",
            "max_value",
            "overflow",
            "max_string_length",
        ),
    )


class TriggerIntentSerializer(BodySerializer):
    """``POST /conversations/{id}/trigger_intent``: the intent to inject, with entities."""

    error_parameter = "name"
    default_error_messages = {"invalid": "Name of the intent not provided in request body."}

    name = StrictCharField(error_messages=all_messages("'name' must be a non-empty string."))
    entities = EntitiesField(required=False, allow_null=True, default=None)


MISSING_MESSAGE = "Missing the message parameter."
UNSTORABLE_MESSAGE = "The message may not contain NUL or unpaired surrogates."


class RespondSerializer(serializers.Serializer):
    """Rasa Core 0.x ``/respond``: the message ``query`` (alias ``q``), from the JSON body
    or, failing that, the query string. Errors name ``query`` in the query."""

    query = AnyValueField(required=False, help_text="The user's message.")
    q = AnyValueField(required=False, help_text="Alias of ``query``.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        text = attrs.get("query", attrs.get("q"))
        if not isinstance(text, str):
            raise serializers.ValidationError({"query": MISSING_MESSAGE})
        if unstorable_text(text):
            raise serializers.ValidationError({"query": UNSTORABLE_MESSAGE})
        return {"text": text}


def respond_source(body: Any, query: Mapping) -> Mapping:
    """Where ``/respond`` reads its message: the body when it names one, else the query."""
    if isinstance(body, dict) and body.get("query", body.get("q")) is not None:
        return body
    return query


PARSE_TEXT_MISSING = (
    "No text message defined in request_body. Add text message to request body "
    "in order to obtain the intent and extracted entities."
)


class ParseSerializer(BodySerializer):
    """``POST /model/parse``: the message to parse."""

    error_parameter = "text"
    default_error_messages = {"invalid": PARSE_TEXT_MISSING}

    text = StrictCharField(allow_blank=True, error_messages=all_messages(PARSE_TEXT_MISSING))
    message_id = AnyValueField(required=False, allow_null=True, default=None)


class LegacyParseSerializer(serializers.Serializer):
    """Rasa NLU 0.x ``/parse``: the message ``q`` (alias ``query``), in the body or query."""

    error_parameter = "q"
    default_error_messages = {"invalid": PARSE_TEXT_MISSING}

    q = AnyValueField(required=False, help_text="The message to parse.")
    query = AnyValueField(required=False, help_text="Alias of ``q``.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        text = next((attrs[key] for key in ("q", "query") if key in attrs), None)
        if not isinstance(text, str):
            raise serializers.ValidationError({"q": PARSE_TEXT_MISSING})
        return {"text": text}


MODEL_FILE_MISSING = "Give 'model_file' or 'model_server'."


class ModelLoadSerializer(BodySerializer):
    """``PUT /model``: the archive to load (a path), or a model server to pull it from."""

    allow_empty_body = False
    default_error_messages = {"invalid": "The request body is empty or not a JSON object."}

    model_file = AnyValueField(required=False, help_text="Path of the archive to load.")
    model_server = AnyJsonField(required=False, help_text="An endpoint to pull the archive from.")
    remote_storage = AnyValueField(required=False, help_text="Not supported.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "model_server" in attrs:
            return {"model_server": attrs["model_server"]}
        if attrs.get("remote_storage"):
            raise serializers.ValidationError(
                {"remote_storage": "Remote model storage is not supported."}
            )
        if not isinstance(attrs.get("model_file"), str):
            raise serializers.ValidationError({"model_file": MODEL_FILE_MISSING})
        return {"model_file": attrs["model_file"]}


DEFAULT_SENDER = "default"
REST_CHANNEL = "rest"


class WebhookSerializer(BodySerializer):
    """``POST /webhooks/rest/webhook``: one user message from the REST channel."""

    default_error_messages = {
        "invalid": "The body must be a JSON object with 'sender' and 'message'."
    }
    error_parameter = None  # Rasa names no parameter for a body that is not an object

    message = MessageTextField(
        allow_blank=True, error_messages=all_messages("'message' must be a string.")
    )
    sender = StrictCharField(
        required=False,
        default=DEFAULT_SENDER,
        error_messages=all_messages("'sender' must be a non-empty string."),
    )
    metadata = serializers.DictField(
        required=False,
        allow_null=True,
        default=None,
        error_messages={"not_a_dict": "'metadata' must be an object."},
    )
    input_channel = AnyValueField(required=False, default=None)

    def validate_input_channel(self, channel: Any) -> str:
        channel = channel or REST_CHANNEL
        if not isinstance(channel, str):
            raise serializers.ValidationError("'input_channel' must be a string.")
        return channel


# --- query parameters -------------------------------------------------------------------


class VerbosityField(serializers.Field):
    """``include_events``: one of the EventVerbosity names, case-insensitive."""

    CHOICES = [v.name for v in EventVerbosity]
    default_error_messages = {
        "invalid": (
            "Invalid parameter value for 'include_events'. Should be one of "
            + ", ".join(CHOICES)
            + "."
        )
    }

    def to_internal_value(self, data: Any) -> EventVerbosity:
        try:
            return EventVerbosity.from_name(data)
        except ValueError:
            self.fail("invalid")


extend_schema_field({"type": "string", "enum": VerbosityField.CHOICES})(VerbosityField)


class VerbosityQuerySerializer(serializers.Serializer):
    """How many events the answered tracker holds: ``include_events``, or the Rasa Core 0.x
    ``ignore_restarts`` (all events) and ``events=false`` (none)."""

    include_events = VerbosityField(required=False)
    ignore_restarts = FlagField(help_text="Rasa Core 0.x: include_events=ALL.")
    events = QueryStringField(help_text="Rasa Core 0.x: 'false' means include_events=NONE.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        verbosity = attrs.pop("include_events", None)
        if verbosity is None:
            if attrs.pop("ignore_restarts", False):
                verbosity = EventVerbosity.ALL
            elif attrs.pop("events", "").lower() == "false":
                verbosity = EventVerbosity.NONE
            else:
                verbosity = EventVerbosity.AFTER_RESTART
        attrs.pop("ignore_restarts", None)
        attrs.pop("events", None)
        return {**attrs, "verbosity": verbosity}


class TrackerQuerySerializer(VerbosityQuerySerializer):
    until = LenientFloatField(help_text="Only events up to this timestamp.")


class TurnQuerySerializer(VerbosityQuerySerializer):
    output_channel = QueryStringField(
        help_text="A channel that pushes (socketio, callback) to send the bot's messages to, "
        "or 'latest' for the channel of the user's latest message; otherwise (rest, absent) "
        "the messages are in the answer."
    )


class EventsQuerySerializer(VerbosityQuerySerializer):
    execute_side_effects = FlagField(default=False, help_text="Schedule posted reminders.")


class StreamQuerySerializer(serializers.Serializer):
    stream = FlagField(default=False, help_text="Answer the messages as lines of JSON.")


class StoryQuerySerializer(serializers.Serializer):
    all_sessions = FlagField(default=False)
    until = LenientFloatField(help_text="Only events up to this timestamp.")


class ParseQuerySerializer(serializers.Serializer):
    emulation_mode = QueryStringField(
        help_text="Answer in another service's format: " + ", ".join(EMULATORS) + ".",
    )

    def validate_emulation_mode(self, mode: str) -> str:
        if mode and mode.lower() not in EMULATORS:
            raise serializers.ValidationError(
                "Invalid parameter value for 'emulation_mode'. "
                f"Should be one of {', '.join(EMULATORS)}."
            )
        return mode


class JobQuerySerializer(serializers.Serializer):
    """How a training or test request waits for its job (API.md section 13)."""

    callback_url = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        help_text="POST the result here later (answer 204 now).",
    )
    # ``async`` is a Python keyword: the field is added below under that name.


JobQuerySerializer._declared_fields["async"] = FlagField(
    default=False, help_text="Answer 202 with the job at once."
)


class TrainQuerySerializer(JobQuerySerializer):
    save_to_default_model_directory = FlagField(default=True)
    force_training = FlagField(default=False)
    augmentation = LenientIntegerField(default=50)
    num_threads = LenientIntegerField(default=1)


class TestStoriesQuerySerializer(JobQuerySerializer):
    e2e = FlagField(default=False)


class TestIntentsQuerySerializer(JobQuerySerializer):
    model = serializers.CharField(
        required=False, default=None, allow_blank=True, trim_whitespace=False
    )
    cross_validation_folds = LenientIntegerField(default=0)


# --- answers ----------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """Rasa's error body (API.md 2.1), the same seven keys on every failure."""

    version = serializers.CharField()
    status = serializers.CharField(help_text="Always 'failure'.")
    message = serializers.CharField()
    reason = serializers.CharField()
    details = serializers.DictField(help_text="For a bad parameter: its name and where it is.")
    help = serializers.CharField(allow_null=True)
    code = serializers.IntegerField(help_text="The HTTP status.")
