"""Model routes (API.md 4.11-4.18, 12): parse, predict, domain, load, unload, train, test."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response

from convapi.params import (
    bool_param,
    events_body,
    int_param,
    json_body,
    text_body,
    verbosity_param,
)
from convapi.views.base import GuardedView
from convapi.views.jobs import job_response
from engine.emulators import EMULATORS
from engine.errors import bad_request, not_acceptable
from jobs.models import Job
from serving import services as modelops
from serving import work
from serving.holder import require_assistant, require_model
from serving.model_server import model_server_pull

YAML_TYPES = ("application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml")


def is_yaml(request: Request) -> bool:
    return request.content_type.split(";")[0].strip().lower() in YAML_TYPES


def parse_text(request: Request, *, keys: tuple[str, ...], location: str = "body") -> str:
    """The message to parse from the body (or, for the 0.x routes, the query)."""
    if location == "query":
        text = next((request.query_params[k] for k in keys if k in request.query_params), None)
    else:
        body = json_body(request)
        text = next((body[k] for k in keys if k in body), None) if isinstance(body, dict) else None
    if not isinstance(text, str):
        raise bad_request(
            "No text message defined in request_body. Add text message to request body "
            "in order to obtain the intent and extracted entities.",
            parameter=keys[0],
            location=location,
        )
    return text


class ParseView(GuardedView):
    """``POST /model/parse``."""

    def post(self, request: Request) -> Response:
        assistant = require_assistant()
        body = json_body(request)
        text = parse_text(request, keys=("text",))
        message_id = body.get("message_id") if isinstance(body, dict) else None
        mode = request.query_params.get("emulation_mode")
        emulate = EMULATORS.get(mode.lower()) if mode else None
        if mode and emulate is None:
            raise bad_request(
                f"Invalid parameter value for 'emulation_mode'. "
                f"Should be one of {', '.join(EMULATORS)}.",
                parameter="emulation_mode",
                location="query",
            )
        result = require_model(assistant).parse(text, message_id=message_id)
        return Response(emulate(result) if emulate else result)


class LegacyParseView(GuardedView):
    """Rasa NLU 0.x ``GET|POST /parse`` with ``q`` or ``query``."""

    def get(self, request: Request) -> Response:
        return self._parse(request, parse_text(request, keys=("q", "query"), location="query"))

    def post(self, request: Request) -> Response:
        require_assistant()
        body = json_body(request)
        if isinstance(body, dict) and not ({"q", "query"} & set(body)):
            body = None
        if body is None:
            return self.get(request)
        return self._parse(request, parse_text(request, keys=("q", "query")))

    def _parse(self, request: Request, text: str) -> Response:
        assistant = require_assistant()
        result = require_model(assistant).parse(text)
        return Response({**result, "project": "default", "model": assistant.file_name})


class ModelPredictView(GuardedView):
    """``POST /model/predict``: prediction on posted events, nothing stored."""

    def post(self, request: Request) -> Response:
        assistant = require_assistant()
        events = events_body(request)
        verbosity = verbosity_param(request)
        return Response(
            modelops.predict_on_events(events=events, verbosity=verbosity, assistant=assistant)
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

    def put(self, request: Request) -> HttpResponse:
        body = json_body(request)
        if not isinstance(body, dict) or not body:
            raise bad_request("The request body is empty or not a JSON object.", parameter="")
        if "model_server" in body:
            model_server_pull(body["model_server"])
        elif body.get("remote_storage"):
            raise bad_request("Remote model storage is not supported.", parameter="remote_storage")
        elif isinstance(body.get("model_file"), str):
            modelops.model_load_file(body["model_file"])
        else:
            raise bad_request("Give 'model_file' or 'model_server'.", parameter="model_file")
        return HttpResponse(status=204)

    def delete(self, request: Request) -> HttpResponse:
        modelops.model_unload()
        return HttpResponse(status=204)


class TrainView(GuardedView):
    """``POST /model/train``: the single YAML document in, the archive out (not loaded)."""

    def post(self, request: Request) -> HttpResponse:
        if request.content_type.startswith("application/json"):
            raise bad_request(
                "JSON training requests are not supported; send YAML "
                "(Content-Type: application/x-yaml).",
                parameter="",
            )
        document = text_body(request, limit=settings.CONVAPI_MAX_TRAINING_BYTES)
        if not document.strip():
            raise bad_request("The request body is empty.", parameter="")
        save = bool_param(request, "save_to_default_model_directory", True)
        params = {
            "save_to_default_model_directory": save,
            "output_dir": str(modelops.model_directory().resolve()) if save else None,
            "force_training": bool_param(request, "force_training", False),
            "augmentation": int_param(request, "augmentation", 50),
            "num_threads": int_param(request, "num_threads", 1),
        }
        return job_response(
            request, kind=work.TRAIN, params=params, body=document, render=archive_response
        )


def archive_response(job: Job) -> HttpResponse:
    path = Path(job.result_file)
    response = FileResponse(
        path.open("rb"), as_attachment=True, filename=path.name, content_type="application/x-tar"
    )
    response["filename"] = path.name
    return response


def report_response(job: Job) -> HttpResponse:
    return Response(job.result)


class TestStoriesView(GuardedView):
    """``POST /model/test/stories``."""

    def post(self, request: Request) -> HttpResponse:
        require_assistant()
        text = text_body(request, limit=settings.CONVAPI_MAX_TRAINING_BYTES)
        if not text.strip():
            raise bad_request("The request body is empty.", parameter="")
        params = {"e2e": bool_param(request, "e2e", False)}
        return job_response(
            request, kind=work.TEST_STORIES, params=params, body=text, render=report_response
        )


class TestIntentsView(GuardedView):
    """``POST /model/test/intents`` (no 409: cross-validation needs no model)."""

    def post(self, request: Request) -> HttpResponse:
        text = text_body(request, limit=settings.CONVAPI_MAX_TRAINING_BYTES)
        if not text.strip():
            raise bad_request("The request body is empty.", parameter="")
        params = {
            "is_yaml": is_yaml(request),
            "model": request.query_params.get("model"),
            "cross_validation_folds": int_param(request, "cross_validation_folds", 0),
        }
        return job_response(
            request, kind=work.TEST_INTENTS, params=params, body=text, render=report_response
        )
