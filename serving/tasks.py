"""Serving's periodic task: pull a new model from the configured model server."""

from __future__ import annotations

from celery import shared_task

from serving.model_server import model_server_poll_due


@shared_task(soft_time_limit=600, time_limit=660)
def pull_model_server() -> bool:
    return model_server_poll_due()
