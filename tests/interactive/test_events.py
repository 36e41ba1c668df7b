"""Reading tracker events and showing bot messages (plain functions, no server)."""

from __future__ import annotations

from interactive.display import annotate, format_bot_message, history_table
from interactive.events import (
    action_event,
    all_events_before_latest_user_msg,
    applied_events,
    is_listening,
    latest_user_message,
    simple_event,
    user_event,
)
from interactive.session import parse_markup

GREET = user_event("hi", {"intent": {"name": "greet", "confidence": 0.9}, "entities": []})
SAD = user_event("sad", {"intent": {"name": "mood_unhappy", "confidence": 0.8}, "entities": []})
LISTEN = action_event("action_listen")


def test_it_finds_the_latest_user_message_and_what_came_before():
    events = [LISTEN, GREET, action_event("utter_greet"), LISTEN, SAD, action_event("x")]
    assert latest_user_message(events) is SAD
    assert all_events_before_latest_user_msg(events) == events[:4]
    assert latest_user_message([LISTEN]) is None
    assert all_events_before_latest_user_msg([LISTEN]) == [LISTEN]


def test_it_tells_whether_the_bot_waits_for_the_user():
    assert is_listening([LISTEN])
    assert not is_listening([LISTEN, GREET])
    assert not is_listening([GREET, action_event("utter_greet")])
    assert is_listening([GREET, action_event("utter_greet"), {"event": "bot"}, LISTEN])
    assert not is_listening([])


def test_it_applies_undo_rewind_and_restart():
    utter = action_event("utter_greet")
    assert applied_events([LISTEN, GREET, utter, simple_event("undo")]) == [LISTEN, GREET]
    assert applied_events([LISTEN, GREET, simple_event("rewind")]) == []
    assert applied_events([GREET, utter, simple_event("restart"), LISTEN]) == [LISTEN]


def test_it_formats_text_buttons_images_attachments_and_custom():
    event = {
        "event": "bot",
        "text": "Pick one",
        "data": {
            "image": "https://x/img.png",
            "attachment": {"type": "file", "url": "https://x/a.pdf"},
            "buttons": [
                {"title": "Yes", "payload": "/affirm"},
                {"title": "No", "payload": "/deny"},
            ],
            "custom": {"card": 1},
            "quick_replies": [{"title": "ok", "payload": "ok"}],
        },
    }
    assert format_bot_message(event).splitlines() == [
        "Pick one",
        "Image: https://x/img.png",
        'Attachment: {"type": "file", "url": "https://x/a.pdf"}',
        "Buttons:",
        "1: Yes (/affirm)",
        "2: No (/deny)",
        "Quick replies:",
        '1: {"title": "ok", "payload": "ok"}',
        'Custom: {"card": 1}',
    ]
    assert format_bot_message({"event": "bot", "text": None, "data": None}) == ""


def test_it_marks_entities_and_reads_the_markup_back():
    entities = [{"entity": "city", "start": 8, "end": 14, "value": "Berlin"}]
    assert annotate("I go to Berlin now", entities) == "I go to [Berlin](city) now"
    parsed, plain = parse_markup("I go to [Berlin](city) now")
    assert plain == "I go to Berlin now"
    assert parsed == [{"entity": "city", "start": 8, "end": 14, "value": "Berlin"}]


def test_it_shows_the_conversation_as_a_table():
    bot = {"event": "bot", "text": "Hey! How are you?", "data": {}}
    table = history_table([LISTEN, GREET, action_event("utter_greet", "memo", 1.0), bot], 80)
    assert "| #   | Bot" in table
    assert "intent: greet 0.90" in table
    assert "utter_greet 1.00" in table
    assert "Hey! How are you?" in table
    assert "action_listen" not in table
