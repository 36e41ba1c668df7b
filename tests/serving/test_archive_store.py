"""The model store: archives stored once by hash, streamed in chunks, fetched by any host.

Every test runs against the database store and a file-system storage (``store`` fixture).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pytest

from engine.errors import ModelLoadError
from serving import archives
from serving.archives import archive_fetch, archive_put
from serving.holder import current_assistant
from serving.models import ModelArchive, ModelArchiveChunk, ServedModel
from tests.api.checks import assert_rasa_error
from tests.serving.conftest import another_host

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("store")]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_bytes(archive: ModelArchive, settings) -> bytes:
    """What the store holds, read past the code under test."""
    if archive.storage:
        location = Path(settings.STORAGES[archive.storage]["OPTIONS"]["location"])
        return (location / archive.location).read_bytes()
    chunks = ModelArchiveChunk.objects.filter(archive=archive).order_by("number")
    return b"".join(bytes(chunk.data) for chunk in chunks)


def put(path: Path, name: str | None = None) -> ModelArchive:
    return archive_put(path=path, name=name or path.name, metadata={"model_id": "m1"})


def test_it_stores_an_archive_once_under_its_hash(settings, initbot_archive, monkeypatch):
    monkeypatch.setattr(archives, "CHUNK_BYTES", 4096)
    first = put(initbot_archive)
    again = put(initbot_archive, name="renamed.tar.gz")
    assert ModelArchive.objects.count() == 1
    assert again.sha256 == first.sha256 == sha256_of(initbot_archive)
    assert (again.name, again.size) == (initbot_archive.name, initbot_archive.stat().st_size)
    assert stored_bytes(first, settings) == initbot_archive.read_bytes()


@pytest.mark.parametrize("store", ["database"], indirect=True)
def test_it_writes_the_database_store_in_chunks(initbot_archive, monkeypatch):
    monkeypatch.setattr(archives, "CHUNK_BYTES", 4096)
    archive = put(initbot_archive)
    sizes = [len(chunk.data) for chunk in ModelArchiveChunk.objects.order_by("number")]
    assert len(sizes) == math.ceil(archive.size / 4096)
    assert set(sizes[:-1]) == {4096}


@pytest.mark.parametrize("store", ["filesystem"], indirect=True)
def test_it_keeps_a_storage_archive_out_of_the_database(settings, initbot_archive):
    archive = put(initbot_archive)
    assert not ModelArchiveChunk.objects.exists()
    assert archive.storage == "models"
    assert archive.location == f"{archive.sha256}.tar.gz"


def test_another_host_fetches_the_archive_into_its_own_cache(settings, tmp_path, initbot_archive):
    archive = put(initbot_archive)
    another_host(settings, tmp_path)
    fetched = archive_fetch(archive)
    assert fetched == tmp_path / "other-host" / archive.sha256 / initbot_archive.name
    assert fetched.read_bytes() == initbot_archive.read_bytes()
    assert not [p for p in fetched.parent.parent.iterdir() if p.name.startswith(".partial")]


def test_it_refuses_a_stored_archive_whose_bytes_changed(settings, tmp_path, initbot_archive):
    archive = put(initbot_archive)
    corrupt_store(archive, settings)
    another_host(settings, tmp_path)
    with pytest.raises(ModelLoadError, match="corrupt"):
        archive_fetch(archive)
    assert not list((tmp_path / "other-host").rglob("*.tar.gz")), "nothing kept in the cache"


def test_it_fetches_again_when_the_cached_copy_was_tampered_with(
    settings, tmp_path, initbot_archive
):
    archive = put(initbot_archive)
    cached = archive_fetch(archive)
    cached.write_bytes(b"tampered")
    assert archive_fetch(archive).read_bytes() == initbot_archive.read_bytes()


def corrupt_store(archive: ModelArchive, settings) -> None:
    if archive.storage:
        location = Path(settings.STORAGES[archive.storage]["OPTIONS"]["location"])
        (location / archive.location).write_bytes(b"not the archive")
    else:
        ModelArchiveChunk.objects.filter(archive=archive, number=0).update(data=b"junk")


# --- through the API -------------------------------------------------------------------------


def test_a_put_model_lands_in_the_store_and_is_named_by_hash(client, initbot_archive):
    assert client.put_json("/model", {"model_file": str(initbot_archive)}).status_code == 204
    archive = ModelArchive.objects.get()
    assert archive.sha256 == sha256_of(initbot_archive)
    assert ServedModel.objects.get().archive_id == archive.sha256
    assert client.get("/status").json()["model_file"] == initbot_archive.name


@pytest.mark.parametrize("reference", ["sha256", "name", "path on another host"])
def test_another_host_serves_a_stored_archive_by_hash_or_name(
    client, settings, tmp_path, initbot_archive, second_archive, reference
):
    put(initbot_archive)
    stored = put(second_archive)
    another_host(settings, tmp_path)
    model_file = {
        "sha256": stored.sha256,
        "name": stored.name,
        "path on another host": f"/nowhere/models/{stored.name}",
    }[reference]
    assert client.put_json("/model", {"model_file": model_file}).status_code == 204
    assert client.get("/status").json()["model_file"] == second_archive.name
    assert ServedModel.objects.get().archive_id == stored.sha256


def test_it_answers_400_for_an_archive_the_store_does_not_hold(client, initbot_archive):
    client.put_json("/model", {"model_file": str(initbot_archive)})
    missing = client.put_json("/model", {"model_file": "0" * 64})
    assert_rasa_error(missing, 400, details={"parameter": "model", "in": "query"})
    assert client.get("/status").json()["model_file"] == initbot_archive.name


@pytest.mark.parametrize("model_file", ["nul\x00.tar.gz", "x" * 5000, "/", ""])
def test_it_answers_400_for_model_files_that_name_nothing(client, model_file, initbot_archive):
    put(initbot_archive)
    response = client.put_json("/model", {"model_file": model_file})
    assert_rasa_error(response, 400)
    assert not ServedModel.objects.exists()


def test_it_answers_400_for_a_corrupt_stored_archive_and_keeps_serving(
    client, settings, tmp_path, initbot_archive, second_archive
):
    client.put_json("/model", {"model_file": str(initbot_archive)})
    broken = put(second_archive)
    corrupt_store(broken, settings)
    another_host(settings, tmp_path)
    response = client.put_json("/model", {"model_file": broken.sha256})
    assert_rasa_error(response, 400, "LoadingError")
    assert ServedModel.objects.get().archive_id == sha256_of(initbot_archive)
    assert client.get("/status").json()["model_file"] == initbot_archive.name


def test_it_stores_nothing_from_a_file_that_is_no_archive(client, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    assert_rasa_error(client.put_json("/model", {"model_file": str(junk)}), 400, "LoadingError")
    assert not ModelArchive.objects.exists()


def test_it_lists_the_stored_archives_with_their_hash(client, initbot_archive, second_archive):
    put(initbot_archive)
    client.put_json("/model", {"model_file": str(second_archive)})
    listed = client.get("/models").json()
    assert [entry["name"] for entry in listed] == [second_archive.name, initbot_archive.name]
    assert listed[0]["sha256"] == sha256_of(second_archive)
    assert [entry["loaded"] for entry in listed] == [True, False]
    assert set(listed[0]) == {"name", "model_id", "sha256", "created", "size", "loaded"}
    assert listed[0]["size"] == second_archive.stat().st_size


def test_every_process_follows_a_swap_on_its_next_request(
    client, settings, tmp_path, initbot_archive, second_archive
):
    client.put_json("/model", {"model_file": str(initbot_archive)})
    another_host(settings, tmp_path)  # this process now plays a worker that served nothing
    assert current_assistant().file_name == initbot_archive.name
    client.put_json("/model", {"model_file": str(second_archive)})
    another_host(settings, tmp_path, "third-host")
    assert current_assistant().file_name == second_archive.name
    client.delete("/model")
    another_host(settings, tmp_path, "fourth-host")
    assert current_assistant() is None
