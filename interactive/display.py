"""What the author reads: bot messages as text and the conversation so far as a table."""

from __future__ import annotations

import json
import shutil
import unicodedata
from typing import Any

from interactive.events import ACTION_LISTEN, entities_of, intent_name

HIDDEN_ACTIONS = {ACTION_LISTEN, "action_session_start", "action_extract_slots"}
# The narrowest a column of the table gets; below ~24 columns the table cannot fit.
MIN_CELL = 4


def format_bot_message(event: dict[str, Any]) -> str:
    """A bot event as lines of text: its text, then image, attachment, buttons and the rest."""
    lines = [event.get("text") or ""]
    data = event.get("data") or {}
    if data.get("image"):
        lines.append(f"Image: {data['image']}")
    if data.get("attachment"):
        lines.append(f"Attachment: {_compact(data['attachment'])}")
    if data.get("buttons"):
        lines.append("Buttons:")
        lines += [_button(index, button) for index, button in enumerate(data["buttons"], 1)]
    for key, title in (("elements", "Elements"), ("quick_replies", "Quick replies")):
        if data.get(key):
            lines.append(f"{title}:")
            lines += [f"{i}: {_compact(e)}" for i, e in enumerate(data[key], 1)]
    if data.get("custom"):
        lines.append(f"Custom: {_compact(data['custom'])}")
    return "\n".join(line for line in lines if line)


def _button(index: int, button: dict[str, Any]) -> str:
    return f"{index}: {button.get('title', '')} ({button.get('payload', '')})"


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def annotate(text: str, entities: list[dict]) -> str:
    """The text with entities marked ``[value](entity)``, as Rasa's training data writes them."""
    spans = sorted(
        (e for e in entities if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)),
        key=lambda e: e["start"],
    )
    out, cursor = [], 0
    for entity in spans:
        if entity["start"] < cursor:
            continue  # overlapping entities cannot both be marked
        out.append(text[cursor : entity["start"]])
        out.append(f"[{text[entity['start'] : entity['end']]}]({_entity_label(entity)})")
        cursor = entity["end"]
    out.append(text[cursor:])
    return "".join(out)


def _entity_label(entity: dict[str, Any]) -> str:
    label = str(entity.get("entity"))
    extras = {k: entity[k] for k in ("role", "group") if entity.get(k)}
    if not extras:
        return label
    return json.dumps({"entity": label, **extras})


def describe_user(event: dict[str, Any]) -> str:
    intent = (event.get("parse_data") or {}).get("intent") or {}
    confidence = intent.get("confidence")
    score = f" {confidence:.2f}" if isinstance(confidence, int | float) else ""
    text = annotate(event.get("text") or "", entities_of(event))
    return f"{text}\nintent: {intent_name(event)}{score}"


def history_rows(events: list[dict]) -> list[tuple[str, str]]:
    """(bot, user) cells, one row per shown event, in order."""
    rows: list[tuple[str, str]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            rows.append(("", describe_user(event)))
        elif kind == "bot":
            rows.append((format_bot_message(event), ""))
        elif kind == "action" and event.get("name") not in HIDDEN_ACTIONS:
            rows.append((_describe_action(event), ""))
    return rows


def _describe_action(event: dict[str, Any]) -> str:
    name = event.get("name") or event.get("action_text")
    confidence = event.get("confidence")
    if event.get("policy") and isinstance(confidence, int | float):
        return f"{name} {confidence:.2f}"
    return str(name)


def history_table(events: list[dict], width: int | None = None) -> str:
    """The conversation as a three-column table (#, Bot, You) no wider than ``width``.

    ``width`` defaults to the terminal's: a line one column too wide wraps, and every
    border after it breaks.
    """
    width = width or shutil.get_terminal_size((100, 24)).columns
    rows = history_rows(events)
    number = max(3, len(str(len(rows))))
    # "| " + number + " | " + cell + " | " + cell + " |": 10 columns of borders and padding.
    cell = max(MIN_CELL, (width - number - 10) // 2)
    widths = [number, cell, cell]
    border = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines = [border, _row(["#", "Bot", "You"], widths), border]
    for index, (bot, user) in enumerate(rows, 1):
        bot_lines, user_lines = _wrap(bot, cell), _wrap(user, cell)
        for n in range(max(len(bot_lines), len(user_lines))):
            label = str(index) if n == 0 else ""
            lines.append(_row([label, _at(bot_lines, n), _at(user_lines, n)], widths))
        lines.append(border)
    return "\n".join(lines)


def display_width(text: str) -> int:
    """Columns the text takes in a terminal: wide (CJK, emoji) characters take two,
    combining marks none."""
    return sum(_char_width(char) for char in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` columns, broken between words, inside a word too long."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if display_width(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            for char in word:  # a word wider than the cell is cut where it reaches the edge
                if display_width(line + char) > width:
                    lines.append(line)
                    line = ""
                line += char
        lines.append(line)
    return lines


def _at(lines: list[str], index: int) -> str:
    return lines[index] if index < len(lines) else ""


def _row(parts: list[str], widths: list[int]) -> str:
    cells = [part + " " * (w - display_width(part)) for part, w in zip(parts, widths, strict=True)]
    return "| " + " | ".join(cells) + " |"
