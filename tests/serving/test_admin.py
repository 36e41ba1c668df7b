"""Operators see the stored archives and the served one, and cannot forge either."""

from __future__ import annotations

import pytest

from serving.archives import archive_put
from serving.models import ModelArchive
from tests.serving.conftest import use_filesystem_store

pytestmark = pytest.mark.django_db


def test_it_lists_stored_archives_read_only(admin_client, initbot_archive):
    archive = archive_put(path=initbot_archive, name=initbot_archive.name, metadata={})
    listing = admin_client.get("/admin/serving/modelarchive/")
    assert listing.status_code == 200
    assert archive.sha256 in listing.content.decode()
    assert admin_client.get("/admin/serving/modelarchive/add/").status_code == 403
    change = f"/admin/serving/modelarchive/{archive.sha256}/change/"
    assert admin_client.post(change, {"name": "forged.tar.gz"}).status_code == 403
    assert ModelArchive.objects.get().name == initbot_archive.name


def test_the_served_archive_cannot_be_deleted(admin_client, client, initbot_archive):
    client.put("/model", {"model_file": str(initbot_archive)}, content_type="application/json")
    archive = ModelArchive.objects.get()
    delete = f"/admin/serving/modelarchive/{archive.sha256}/delete/"
    assert admin_client.post(delete, {"post": "yes"}).status_code == 200  # "cannot delete"
    assert ModelArchive.objects.filter(pk=archive.sha256).exists()


def test_deleting_an_archive_deletes_its_bytes_too(
    admin_client, settings, tmp_path, second_archive
):
    location = tmp_path / "storage"
    use_filesystem_store(settings, location)
    archive = archive_put(path=second_archive, name=second_archive.name, metadata={})
    assert (location / archive.location).is_file()
    delete = f"/admin/serving/modelarchive/{archive.sha256}/delete/"
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not ModelArchive.objects.exists()
    assert not (location / archive.location).exists()
