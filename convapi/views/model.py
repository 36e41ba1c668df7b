"""Model routes (API.md 4.11-4.18, 12): parse, predict, domain, load, unload, train, test."""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from convapi import schema
from convapi.params import events_body, json_body, text_body
from convapi.serializers import (
    LegacyParseSerializer,
    ModelLoadSerializer,
    ParseQuerySerializer,
    ParseSerializer,
    TestIntentsQuerySerializer,
    TestStoriesQuerySerializer,
    TrainQuerySerializer,
    VerbosityQuerySerializer,
    validated,
)
from convapi.views.base import GuardedView
from convapi.views.jobs import job_refusal, job_response
from engine.emulators import EMULATORS
from engine.errors import ServiceError, bad_request, not_acceptable
from jobs.models import Job
from serving import services as modelops
from serving import work
from serving.holder import require_assistant, require_model
from serving.model_server import model_server_pull

YAML_TYPES = ("application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml")
# Training data and test stories are posted as YAML (or Markdown / JSON NLU data).
TEXT_BODY = {media_type: OpenApiTypes.STR for media_type in ("application/x-yaml", "text/plain")}


def is_yaml(request: Request) -> bool:
    return request.content_type.split(";")[0].strip().lower() in YAML_TYPES


class ParseView(GuardedView):
    """``POST /model/parse``."""

    @extend_schema(
        request=schema.json(ParseSerializer),
        parameters=[ParseQuerySerializer],
        responses={200: OpenApiTypes.OBJECT, **schema.error_responses(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        assistant = require_assistant()
        body = validated(ParseSerializer, json_body(request))
        mode = validated(ParseQuerySerializer, request.query_params, location="query").get(
            "emulation_mode"
        )
        emulate = EMULATORS.get(mode.lower()) if mode else None
        result = require_model(assistant).parse(body["text"], message_id=body["message_id"])
        return Response(emulate(result) if emulate else result)


LEGACY_PARSE_ERRORS = {200: OpenApiTypes.OBJECT, **schema.error_responses(400, 401, 403, 409)}


class LegacyParseView(GuardedView):
    """Rasa NLU 0.x ``GET|POST /parse`` with ``q`` or ``query``."""

    @extend_schema(parameters=[LegacyParseSerializer], responses=LEGACY_PARSE_ERRORS)
    def get(self, request: Request) -> Response:
        query = validated(LegacyParseSerializer, request.query_params, location="query")
        return self._parse(query["text"])

    @extend_schema(
        request=schema.json(LegacyParseSerializer),
        parameters=[LegacyParseSerializer],
        responses=LEGACY_PARSE_ERRORS,
    )
    def post(self, request: Request) -> Response:
        require_assistant()
        body = json_body(request)
        if body is None or (isinstance(body, dict) and not ({"q", "query"} & set(body))):
            return self.get(request)  # the message is in the query, as for GET
        return self._parse(validated(LegacyParseSerializer, body)["text"])

    def _parse(self, text: str) -> Response:
        assistant = require_assistant()
        result = require_model(assistant).parse(text)
        return Response({**result, "project": "default", "model": assistant.file_name})


class ModelPredictView(GuardedView):
    """``POST /model/predict``: prediction on posted events, nothing stored."""

    @extend_schema(
        request=schema.json(schema.EVENTS),
        parameters=[VerbosityQuerySerializer],
        responses={200: OpenApiTypes.OBJECT, **schema.error_responses(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        assistant = require_assistant()
        events = events_body(request)
        query = validated(VerbosityQuerySerializer, request.query_params, location="query")
        return Response(
            modelops.predict_on_events(
                events=events, verbosity=query["verbosity"], assistant=assistant
            )
        )


class DomainView(GuardedView):
    """``GET /domain`` in JSON or YAML, as the ``Accept`` header asks."""

    def get(self, request: Request) -> HttpResponse:
        assistant = require_assistant()
        accept = request.headers.get("Accept", "application/json").strip()
        if accept.endswith("json"):
            return Response(assistant.domain.as_dict())
        if accept.endswith(("yml", "yaml")):
            return HttpResponse(assistant.domain.as_yaml(), content_type="application/x-yaml")
        raise not_acceptable(
            "Invalid Accept header. Domain can be provided as json "
            '("Accept: application/json") or yml ("Accept: application/x-yml"). '
            "Make sure you've set the appropriate Accept header.",
        )


class ModelView(GuardedView):
    """``PUT /model`` loads an archive; ``DELETE /model`` unloads it."""

    @extend_schema(
        request=schema.json(ModelLoadSerializer),
        responses={204: None, **schema.error_responses(400, 401, 403)},
    )
    def put(self, request: Request) -> HttpResponse:
        body = validated(ModelLoadSerializer, json_body(request))
        if "model_server" in body:
            model_server_pull(body["model_server"])
        else:
            modelops.model_load_file(body["model_file"])
        return HttpResponse(status=204)

    def delete(self, request: Request) -> HttpResponse:
        modelops.model_unload()
        return HttpResponse(status=204)


JOB_ANSWERS = {
    200: OpenApiTypes.OBJECT,
    202: OpenApiTypes.OBJECT,
    204: None,
    **schema.error_responses(400, 401, 403),
}


class TrainView(GuardedView):
    """``POST /model/train``: the single YAML document in, the archive out (not loaded)."""

    @extend_schema(
        request=TEXT_BODY,
        parameters=[TrainQuerySerializer],
        responses={
            (200, "application/x-tar"): OpenApiTypes.BINARY,
            **{status: answer for status, answer in JOB_ANSWERS.items() if status != 200},
        },
    )
    def post(self, request: Request) -> HttpResponse:
        query = validated(TrainQuerySerializer, request.query_params, location="query")
        try:
            document = _training_document(request)
        except ServiceError as refusal:
            return job_refusal(query, kind=work.TRAIN, refusal=refusal)
        params = {
            # Accepted as Rasa's; the archive always lands in the model store (every host
            # must be able to send it), where GET /models lists it.
            "save_to_default_model_directory": query["save_to_default_model_directory"],
            "force_training": query["force_training"],
            "augmentation": query["augmentation"],
            "num_threads": query["num_threads"],
        }
        return job_response(
            query, kind=work.TRAIN, params=params, body=document, render=archive_response
        )


def _training_document(request: Request) -> str:
    if request.content_type.startswith("application/json"):
        raise bad_request(
            "JSON training requests are not supported; send YAML "
            "(Content-Type: application/x-yaml).",
            parameter="",
        )
    return _posted_text(request, check_yaml=True)


def _posted_text(request: Request, *, check_yaml: bool) -> str:
    text = text_body(request, limit=settings.CONVAPI_MAX_TRAINING_BYTES)
    if not text.strip():
        raise bad_request("The request body is empty.", parameter="")
    if check_yaml:
        modelops.training_text_check(text)
    return text


def archive_response(job: Job) -> HttpResponse:
    """The trained archive, from the model store (the job may have run on another host)."""
    path = modelops.model_archive_file(sha256=job.result["sha256"])
    response = FileResponse(
        path.open("rb"), as_attachment=True, filename=path.name, content_type="application/x-tar"
    )
    response["filename"] = path.name
    return response


def report_response(job: Job) -> HttpResponse:
    return Response(job.result)


class TestStoriesView(GuardedView):
    """``POST /model/test/stories``."""

    @extend_schema(
        request=TEXT_BODY,
        parameters=[TestStoriesQuerySerializer],
        responses={**JOB_ANSWERS, **schema.error_responses(409)},
    )
    def post(self, request: Request) -> HttpResponse:
        query = validated(TestStoriesQuerySerializer, request.query_params, location="query")
        try:
            require_assistant()
            text = _posted_text(request, check_yaml=True)
        except ServiceError as refusal:
            return job_refusal(query, kind=work.TEST_STORIES, refusal=refusal)
        params = {"e2e": query["e2e"]}
        return job_response(
            query, kind=work.TEST_STORIES, params=params, body=text, render=report_response
        )


class TestIntentsView(GuardedView):
    """``POST /model/test/intents`` (no 409: cross-validation needs no model)."""

    @extend_schema(
        request=TEXT_BODY, parameters=[TestIntentsQuerySerializer], responses=JOB_ANSWERS
    )
    def post(self, request: Request) -> HttpResponse:
        query = validated(TestIntentsQuerySerializer, request.query_params, location="query")
        try:
            text = _posted_text(request, check_yaml=is_yaml(request))
        except ServiceError as refusal:
            return job_refusal(query, kind=work.TEST_INTENTS, refusal=refusal)
        params = {
            "is_yaml": is_yaml(request),
            "model": query["model"],
            "cross_validation_folds": query["cross_validation_folds"],
        }
        return job_response(
            query, kind=work.TEST_INTENTS, params=params, body=text, render=report_response
        )
