"""Trainings land in the model store; unchanged training data reuses the stored archive."""

from __future__ import annotations

import pytest

from serving.models import ModelArchive, ServedModel
from serving.services import model_train
from tests.jobs.conftest import training_document

pytestmark = pytest.mark.django_db


def test_it_trains_into_the_store_without_serving_the_model():
    archive = model_train(document=training_document(), force=False, augmentation=0)
    assert ModelArchive.objects.get() == archive
    assert archive.model_id and archive.fingerprint
    assert not ServedModel.objects.exists(), "a training does not change the served model"


def test_unchanged_data_reuses_the_newest_archive_unless_forced():
    first = model_train(document=training_document(), force=False, augmentation=0)
    again = model_train(document=training_document(), force=False, augmentation=0)
    assert again.sha256 == first.sha256
    forced = model_train(document=training_document(), force=True, augmentation=0)
    assert forced.sha256 != first.sha256
    assert ModelArchive.objects.count() == 2
