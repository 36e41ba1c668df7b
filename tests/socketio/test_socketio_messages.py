"""Bot messages in the shapes Rasa 3.x's SocketIOOutput emits (no server, no database)."""

from __future__ import annotations

from convapi.socketio_output import socketio_messages


def test_a_text_with_blank_lines_is_one_message_per_paragraph():
    assert socketio_messages([{"text": "one\n\ntwo"}]) == [{"text": "one"}, {"text": "two"}]


def test_buttons_become_quick_replies_on_the_last_paragraph():
    buttons = [{"title": "Yes", "payload": "/affirm"}]
    assert socketio_messages([{"text": "a\n\nb", "buttons": buttons}]) == [
        {"text": "a", "quick_replies": []},
        {
            "text": "b",
            "quick_replies": [{"content_type": "text", "title": "Yes", "payload": "/affirm"}],
        },
    ]


def test_an_image_an_attachment_and_elements_are_attachments():
    element = {"title": "Shoe", "subtitle": "red", "buttons": []}
    message = {"image": "https://x/y.png", "attachment": {"type": "file"}, "elements": [element]}
    assert socketio_messages([message]) == [
        {"attachment": {"type": "image", "payload": {"src": "https://x/y.png"}}},
        {"attachment": {"type": "file"}},
        {
            "attachment": {
                "type": "template",
                "payload": {"template_type": "generic", "elements": element},
            }
        },
    ]


def test_custom_json_is_emitted_as_given_or_its_data():
    assert socketio_messages([{"custom": {"data": {"k": 1}}}, {"custom": {"k": 2}}]) == [
        {"k": 1},
        {"k": 2},
    ]


def test_a_pushed_rest_message_keeps_no_recipient_id():
    assert socketio_messages([{"recipient_id": "ann", "text": "hi"}]) == [{"text": "hi"}]
