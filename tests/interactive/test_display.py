"""The history table fits the terminal: every line, at every width, whatever was said."""

from __future__ import annotations

import pytest

from interactive.display import display_width, history_table

EVENTS = [
    {"event": "action", "name": "action_listen"},
    {
        "event": "user",
        "text": "I would like to fly to Tokyo 東京 next week with my 🐈 please",
        "parse_data": {"intent": {"name": "request_flight", "confidence": 0.8731}},
    },
    {"event": "action", "name": "utter_ask_date", "policy": "TEDPolicy", "confidence": 0.91},
    {
        "event": "bot",
        "text": "When?\tPick a day: " + "supercalifragilisticexpialidocious" * 3,
        "data": {"buttons": [{"title": "Tomorrow", "payload": '/inform{"day": "tomorrow"}'}]},
    },
]
WORDS = ["Tokyo", "東京", "🐈", "request_flight", "utter_ask_date", "Tomorrow", "When?"]


@pytest.mark.parametrize("width", [30, 40, 41, 80, 99, 120, 200])
def test_every_line_of_the_table_fits_the_terminal(width):
    lines = history_table(EVENTS, width).splitlines()
    widths = {display_width(line) for line in lines}
    # Every line exactly as wide as the others (the borders line up), and within the width.
    assert len(widths) == 1 and widths.pop() in (width, width - 1), lines
    text = " ".join(lines)
    # Past 40 columns the names fit a cell whole (narrower, they are cut to fit).
    assert width <= 40 or all(word in text for word in WORDS)
    assert sum(line.startswith("| 1 ") for line in lines) == 1
    assert sum(line.startswith("| 3 ") for line in lines) == 1


def test_it_counts_wide_characters_as_two_columns():
    assert display_width("abc") == 3
    assert display_width("東京") == 4
    assert display_width("🐈") == 2
    assert display_width("e\u0301") == 1  # e and a combining accent: one column


def test_the_number_column_grows_with_the_rows():
    many = [{"event": "bot", "text": f"message {n}"} for n in range(120)]
    lines = history_table(many, 60).splitlines()
    assert {display_width(line) for line in lines} <= {59, 60}
    assert any(line.startswith("| 120 | message 119") for line in lines)
