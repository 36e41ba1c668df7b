"""The list's per-conversation figures: kept by the store, rebuilt by the migration."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from tests.admin.conftest import chat
from trackers.models import Conversation

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("open_auth", "initbot")]

backfill_migration = importlib.import_module("trackers.migrations.0003_review_figures_and_search")

FIGURES = ("user_turns", "had_fallback", "lowest_confidence")


def test_it_rebuilds_the_figures_the_store_keeps(client):
    chat(
        client,
        "counted",
        ("hi", "greet", 0.8, "utter_greet", "Hey"),
        ("??", "greet", 0.6, "action_two_stage_fallback", None),
    )
    kept = Conversation.objects.values(*FIGURES).get(sender_id="counted")
    assert kept == {"user_turns": 2, "had_fallback": True, "lowest_confidence": 0.6}
    Conversation.objects.update(user_turns=0, had_fallback=False, lowest_confidence=None)
    backfill_migration.backfill(apps, None)
    assert Conversation.objects.values(*FIGURES).get(sender_id="counted") == kept
