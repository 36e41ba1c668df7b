"""Model store fixtures: a fresh cache per test, either backend, a second archive to swap to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from serving import holder
from tests.api.conftest import (
    ApiClient,
    gunicorn_on_test_db,  # noqa: F401 - a fixture, registered by import
)
from tests.conftest import BOTS


@pytest.fixture(autouse=True)
def fresh_process(settings, tmp_path) -> Iterator[None]:
    """Each test is a process that serves nothing yet, with an empty cache of its own."""
    settings.CONVAPI_AUTH_TOKEN = ""
    settings.CONVAPI_JWT_SECRET = ""
    settings.CONVAPI_MODEL_CACHE = str(tmp_path / "cache")
    settings.CONVAPI_MODEL = str(tmp_path / "no-models")
    holder.assistant_set(None, choice="")
    yield
    holder.assistant_set(None, choice="")


@pytest.fixture(params=["database", "filesystem"])
def store(request, settings, tmp_path) -> str:
    """The model store: database chunks (the default) or a file-system STORAGES alias."""
    if request.param == "filesystem":
        use_filesystem_store(settings, tmp_path / "storage")
    return request.param


def use_filesystem_store(settings, location: Path) -> None:
    """Archives in a folder through Django's FileSystemStorage, named ``models``."""
    settings.STORAGES = {
        **settings.STORAGES,
        "models": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    settings.CONVAPI_MODEL_STORAGE = "models"


@pytest.fixture
def client() -> ApiClient:
    return ApiClient()


@pytest.fixture(scope="session")
def second_archive(tmp_path_factory) -> Path:
    """initbot trained again: other bytes, another model id and file name."""
    from engine.project import load_project
    from engine.training import train

    folder = tmp_path_factory.mktemp("second")
    return train(load_project(BOTS / "initbot"), output_dir=folder, fixed_name="second.tar.gz").path


def another_host(settings, tmp_path: Path, name: str = "other-host") -> None:
    """What a process on another host looks like: its own empty cache, nothing loaded."""
    settings.CONVAPI_MODEL_CACHE = str(tmp_path / name)
    holder.assistant_set(None, choice="")
