"""Jobs and stored models (API.md section 13), and how the model routes run as jobs.

A training or test request becomes a ``Job`` run by a Celery worker. With
``callback_url`` the client gets 204 now and the result by POST later; with
``?async=true`` it gets 202 and ``Location: /jobs/{id}``; otherwise the request waits for
the job (the worker does the work) and answers as Rasa would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from convapi.schema import error_responses
from convapi.views.base import GuardedView
from engine.errors import ServiceError, error_from_body, not_found
from jobs.models import Job
from jobs.selectors import job_as_dict, job_get, job_list
from jobs.services import job_refused, job_submit, job_wait
from serving.services import models_list


def job_response(
    query: Mapping[str, Any],
    *,
    kind: str,
    params: dict[str, Any],
    body: str,
    render: Callable[[Job], HttpResponse],
) -> HttpResponse:
    """Submit the work as a job and answer in the mode the client asked for (``query`` is
    validated by a ``JobQuerySerializer``: ``callback_url`` and ``async``)."""
    callback_url = query["callback_url"].strip()
    job = job_submit(kind=kind, params=params, body=body, callback_url=callback_url)
    if callback_url:
        return HttpResponse(status=204)
    if query["async"]:
        return _accepted(job)
    job = job_wait(job=job, timeout=settings.CONVAPI_JOB_WAIT_SECONDS)
    if job.status == Job.Status.SUCCEEDED:
        return render(job)
    if job.status == Job.Status.FAILED:
        raise job_error(job)
    return _accepted(job)  # still running after the wait: the client can poll it


def job_refusal(query: Mapping[str, Any], *, kind: str, refusal: ServiceError) -> HttpResponse:
    """A request whose body is refused: with ``callback_url`` answered 204 and the error
    POSTed to the callback (as Rasa validates after answering), else the error itself."""
    callback_url = query["callback_url"].strip()
    if not callback_url:
        raise refusal
    job_refused(kind=kind, params={}, error=refusal.body(), callback_url=callback_url)
    return HttpResponse(status=204)


def job_error(job: Job) -> ServiceError:
    """The failure a job recorded, raised again for the client that waited for it."""
    return error_from_body(job.error or {})


def _accepted(job: Job) -> HttpResponse:
    response = Response(job_as_dict(job), status=202)
    response["Location"] = f"/jobs/{job.pk}"
    return response


class JobPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


class JobListView(GuardedView):
    """``GET /jobs``: newest first; ``?kind=``, ``?status=``, ``?limit=``, ``?offset=``."""

    @extend_schema(operation_id="jobs_list")
    def get(self, request: Request) -> Response:
        jobs = job_list(
            kind=request.query_params.get("kind"), status=request.query_params.get("status")
        )
        paginator = JobPagination()
        page = paginator.paginate_queryset(jobs, request, view=self)
        return paginator.get_paginated_response([job_as_dict(job) for job in page])


class JobDetailView(GuardedView):
    """``GET /jobs/{id}``: status, progress, timings, result or error, callback attempts."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403, 404)})
    def get(self, request: Request, job_id: str) -> Response:
        job = job_get(job_id=job_id)
        if job is None:
            raise not_found(f"Job '{job_id}' not found.")
        return Response(job_as_dict(job, detail=True))


class ModelListView(GuardedView):
    """``GET /models``: the archives in the model store and which one is served."""

    @extend_schema(responses={200: {"type": "array", "items": {"type": "object"}}})
    def get(self, request: Request) -> Response:
        return Response(models_list())
