"""The client library against a live convapi serving a trained initbot."""

from __future__ import annotations

import pytest

from interactive.events import action_event, is_listening, simple_event

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_reads_status_domain_and_tracker(api):
    assert api.status()["model_id"]
    domain = api.domain()
    assert "greet" in domain["intents"]
    assert "utter_greet" in domain["responses"]
    tracker = api.tracker("new-one", "AFTER_RESTART")
    assert tracker["sender_id"] == "new-one"
    assert is_listening(tracker["events"])
    assert api.tracker("new-one", "NONE")["events"] is None


def test_it_sends_a_message_parsed_by_the_server(api):
    tracker = api.send_message("m1", "hello there")
    assert tracker["latest_message"]["intent"]["name"] == "greet"
    assert tracker["events"][-1]["event"] == "user"
    assert not is_listening(tracker["events"])


def test_it_sends_a_message_with_given_parse_data(api):
    parse = {"intent": {"name": "deny", "confidence": 1.0}, "entities": []}
    tracker = api.send_message("m2", "hello there", parse_data=parse)
    assert tracker["latest_message"]["intent"]["name"] == "deny"
    assert tracker["latest_message"]["text"] == "hello there"


def test_it_predicts_the_next_action_without_running_it(api):
    api.send_message("p1", "/greet")
    prediction = api.request_prediction("p1")
    assert prediction["scores"][0]["action"] == "utter_greet"
    assert prediction["policy"]
    assert 0 < prediction["confidence"] <= 1
    assert api.tracker("p1")["events"][-1]["event"] == "user"


def test_it_runs_a_domain_action_through_execute(api):
    api.send_message("x1", "/greet")
    api.send_action("x1", "utter_greet", policy="interactive", confidence=1.0)
    events = api.tracker("x1")["events"]
    assert [e["event"] for e in events[-2:]] == ["action", "bot"]
    assert events[-2]["name"] == "utter_greet"
    assert events[-1]["text"] == "Hey! How are you?"


def test_it_logs_a_new_action_as_an_action_event(api):
    api.send_message("x2", "/greet")
    api.send_action("x2", "utter_brand_new", is_new_action=True)
    assert api.tracker("x2")["events"][-1]["name"] == "utter_brand_new"


def test_it_falls_back_to_an_event_for_an_action_the_server_does_not_know(api):
    api.send_message("x3", "/greet")
    api.send_action("x3", "action_not_in_domain")
    assert api.tracker("x3")["events"][-1]["name"] == "action_not_in_domain"


def test_it_sends_one_event_or_a_list(api):
    api.send_message("e1", "/greet")
    api.send_event("e1", action_event("utter_greet"))
    tracker = api.send_event("e1", [simple_event("undo"), action_event("action_listen")])
    assert is_listening(tracker["events"])
    applied = api.tracker("e1", "APPLIED")["events"]
    assert "utter_greet" not in [e.get("name") for e in applied]


def test_it_replaces_the_events(api):
    api.send_message("r1", "/greet")
    api.replace_events("r1", [action_event("action_listen")])
    assert [e["event"] for e in api.tracker("r1")["events"]] == ["action"]


def test_it_sends_raw_ids_with_slashes(api):
    api.send_message("a/b+c", "/greet")
    assert api.tracker("a/b+c")["sender_id"] == "a/b+c"


def test_it_reads_the_story(api):
    api.send_message("s1", "/greet")
    assert "intent: greet" in api.story("s1")


def test_it_waits_for_the_server(api):
    assert api.wait_until_running(attempts=2, delay=0.01)["model_id"]


def test_it_loads_a_model_file(api, initbot_archive):
    api.load_model(str(initbot_archive))
    assert api.status()["model_file"] == initbot_archive.name
