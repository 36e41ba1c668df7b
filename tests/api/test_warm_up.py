"""A web worker's start: the model is loaded before the first request, long-lived objects frozen."""

from __future__ import annotations

import gc

import pytest

from serving import holder as assistant

pytestmark = pytest.mark.django_db


def test_it_loads_the_model_and_freezes_what_lives_as_long(settings, initbot_archive, monkeypatch):
    settings.CONVAPI_MODEL = str(initbot_archive)
    monkeypatch.setattr(assistant, "_configured", False)  # as in a fresh worker
    try:
        assistant.warm_up()
        served = assistant.current_assistant()
        assert served is not None and served.file_name == initbot_archive.name
        assert gc.get_freeze_count() > 0
        assistant.assistant_set(None)  # a later model swap: frozen again, the old model freed
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_it_starts_without_a_model_when_none_is_there(settings, tmp_path, monkeypatch):
    settings.CONVAPI_MODEL = str(tmp_path / "empty")
    monkeypatch.setattr(assistant, "_configured", False)
    try:
        assistant.warm_up()
        assert assistant.current_assistant() is None
    finally:
        gc.unfreeze()
