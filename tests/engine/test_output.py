"""Bot events as REST channel messages (API.md section 5)."""

from __future__ import annotations

from engine.events import ActionExecuted, BotUttered
from engine.output import messages_for_events, with_recipient


def _bot(text=None, **data) -> BotUttered:
    return BotUttered(text, data)


def test_it_splits_paragraphs_into_messages():
    assert messages_for_events([_bot("one\n\ntwo")]) == [{"text": "one"}, {"text": "two"}]


def test_it_keeps_text_and_buttons_together():
    buttons = [{"title": "Yes", "payload": "/affirm"}]
    assert messages_for_events([_bot("a\n\nb", buttons=buttons)]) == [
        {"text": "a\n\nb", "buttons": buttons}
    ]


def test_it_renders_quick_replies_as_buttons():
    replies = [{"title": "x", "payload": "y"}]
    assert messages_for_events([_bot("q", quick_replies=replies)]) == [
        {"text": "q", "buttons": replies}
    ]


def test_it_sends_image_custom_and_attachment_apart():
    event = _bot("look", image="i.png", custom={"k": 1}, attachment="a.pdf")
    assert messages_for_events([event]) == [
        {"text": "look"},
        {"custom": {"k": 1}},
        {"image": "i.png"},
        {"attachment": "a.pdf"},
    ]


def test_it_drops_an_attachment_equal_to_the_image():
    assert messages_for_events([_bot(image="i.png", attachment="i.png")]) == [{"image": "i.png"}]


def test_it_turns_elements_into_text_with_buttons():
    elements = [{"title": "T", "subtitle": "S", "buttons": [{"title": "b", "payload": "p"}]}]
    assert messages_for_events([_bot(elements=elements)]) == [
        {"text": "T : S", "buttons": [{"title": "b", "payload": "p"}]}
    ]


def test_it_ignores_other_events_and_adds_the_recipient():
    messages = messages_for_events([ActionExecuted("utter_x"), _bot("hi")])
    assert with_recipient(messages, "u1") == [{"recipient_id": "u1", "text": "hi"}]
