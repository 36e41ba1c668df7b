"""The one writer of Rasa training data: test stories, training stories, NLU examples.

Serves ``GET /conversations/{id}/story`` (test stories), the admin's export of reviewed
conversations and interactive learning's export. Steps are plain dicts built by
``story_steps``; where those outputs differ on purpose, ``StepOptions`` and the keyword
options of ``annotate_entities`` / ``nlu_examples`` name the difference. YAML text comes
from ``dump_training_data`` only (interactive learning appends with ruamel instead, to
keep the author's comments).

Follows Rasa 3.x's writers: one story per session (split at every
``action_session_start``), user messages as ``intent`` plus either the annotated text
(test stories) or the ``entities`` (training stories), actions, ``slot_was_set`` and
``active_loop`` steps, and nothing for the events a story cannot express.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.events import ActionExecuted, ActiveLoop, Event, Restarted, SlotSet, UserUttered
from engine.tracker import applied_events
from engine.yaml_text import DoubleQuoted, Literal, dump_yaml

STORY_FORMAT_VERSION = "3.1"
SESSION_START_ACTION = "action_session_start"
# Actions no story shows: the format implies them.
IMPLIED_ACTIONS = frozenset({"action_listen", SESSION_START_ACTION})
UNLIKELY_INTENT_ACTION = "action_unlikely_intent"


@dataclass(frozen=True)
class StepOptions:
    """How a user message becomes a step: the one place where the outputs differ.

    ``user_text``: test stories write the annotated text under ``user`` (and the intent
    only when it was not predicted from the text); training stories write ``entities``.
    ``retrieval_intents``: name ``faq/ask_name`` rather than ``faq``.
    ``entity_roles``: entity items keep their ``role`` and ``group``.
    ``skipped_actions``: actions left out of the story.
    """

    user_text: bool = False
    retrieval_intents: bool = True
    entity_roles: bool = False
    skipped_actions: frozenset[str] = IMPLIED_ACTIONS | {UNLIKELY_INTENT_ACTION}


# Test stories also drop the rule snippet marker ``...`` (Rasa's test-story writer).
TEST_STORY_STEPS = StepOptions(
    user_text=True, skipped_actions=IMPLIED_ACTIONS | {UNLIKELY_INTENT_ACTION, "..."}
)
TRAINING_STORY_STEPS = StepOptions()


# --- stories ----------------------------------------------------------------------------


def write_test_stories(
    sender_id: str,
    events: Sequence[Event],
    *,
    all_sessions: bool = False,
    until: float | None = None,
) -> str:
    """The YAML test stories of one conversation (every event, undone ones included)."""
    sessions = split_sessions(events)
    if not all_sessions:
        sessions = sessions[-1:] if sessions else [[]]
    if until is not None:
        sessions = [session for session in (_until(s, until) for s in sessions) if session]
    steps = [story_steps(session, TEST_STORY_STEPS) for session in sessions]
    stories = _named_stories(sender_id, steps, numbered="story")
    # Like Rasa, a conversation without sessions has no ``stories`` key at all.
    return dump_training_data(**({"stories": stories} if stories else {}))


def training_stories(
    sender_id: str, events: Sequence[Event], options: StepOptions = TRAINING_STORY_STEPS
) -> list[dict[str, Any]]:
    """One story per session and per restart, of the events still applied (undo, rewind)."""
    parts = [applied_events(part) for part in story_parts(events)]
    steps = [s for s in (story_steps(part, options) for part in parts) if s]
    return _named_stories(sender_id, steps, numbered="part")


def split_sessions(events: Sequence[Event]) -> list[list[Event]]:
    """Events grouped by session; each session starts with its ``action_session_start``."""
    sessions: list[list[Event]] = []
    current: list[Event] = []
    for event in events:
        if isinstance(event, ActionExecuted) and event.action_name == SESSION_START_ACTION:
            if current:
                sessions.append(current)
            current = []
        current.append(event)
    if current:
        sessions.append(current)
    return sessions


def story_parts(events: Sequence[Event]) -> list[list[Event]]:
    """Sessions further split at restarts: a training story never spans a restart."""
    parts: list[list[Event]] = []
    for session in split_sessions(events):
        parts.append([])
        for event in session:
            if isinstance(event, Restarted):
                parts.append([])
            parts[-1].append(event)
    return parts


def _until(events: Sequence[Event], until: float) -> list[Event]:
    """The session as it was at ``until`` (stops at the first later event, like Rasa)."""
    kept = []
    for event in events:
        if event.timestamp > until:
            break
        kept.append(event)
    return kept


def _named_stories(sender_id: str, steps: list[list[dict]], *, numbered: str) -> list[dict]:
    """Stories named after the sender; numbered (``me, story 2``) only when there are more."""
    return [
        {"story": sender_id if len(steps) == 1 else f"{sender_id}, {numbered} {n}", "steps": s}
        for n, s in enumerate(steps, 1)
    ]


# --- steps ------------------------------------------------------------------------------


def story_steps(events: Iterable[Event], options: StepOptions) -> list[dict[str, Any]]:
    """The steps of a story (or rule, same vocabulary); events without a step are skipped."""
    steps = []
    for event in events:
        step = _step(event, options)
        if step is not None:
            steps.append(step)
    return steps


def _step(event: Event, options: StepOptions) -> dict | None:
    if isinstance(event, UserUttered):
        return _user_step(event, options)
    if isinstance(event, ActionExecuted):
        if event.action_name in options.skipped_actions:
            return None
        if event.action_name:
            return {"action": event.action_name}
        return {"bot": event.action_text}
    if isinstance(event, SlotSet):
        return {"slot_was_set": [{event.key: event.value}]}
    if isinstance(event, ActiveLoop):
        return {"active_loop": event.name}
    return None


def _user_step(event: UserUttered, options: StepOptions) -> dict | None:
    intent = event.intent_name
    if intent and options.retrieval_intents:
        intent = event.full_retrieval_intent_name or intent
    step: dict[str, Any] = {}
    if options.user_text:
        if intent and not event.use_text_for_featurization:
            step["intent"] = intent
        if event.text:
            step["user"] = Literal(annotate_entities(event.text, event.entities))
        return step
    if not intent:
        return None  # a training story needs the intent
    step["intent"] = intent
    entities = [_entity_item(e, options.entity_roles) for e in event.entities if e.get("entity")]
    if entities:
        step["entities"] = entities
    return step


def _entity_item(entity: dict, roles: bool) -> dict[str, Any]:
    extras = {k: entity[k] for k in ("role", "group") if entity.get(k)} if roles else {}
    if extras:
        return {"entity": entity["entity"], "value": entity.get("value"), **extras}
    return {entity["entity"]: entity.get("value")}


# --- NLU examples -----------------------------------------------------------------------


def nlu_examples(
    events: Iterable[Event],
    *,
    labels_only: bool = False,
    excluded_intents: Collection[str] = (),
    into: dict[str, list[str]] | None = None,
) -> dict[str, list[str]]:
    """Annotated example texts per intent, each once, in the order first said.

    Intent shortcuts (``/greet``) and ``excluded_intents`` (say, fallbacks) teach the
    classifier nothing. ``into`` collects several conversations in one mapping;
    ``labels_only`` is passed on to ``annotate_entities``.
    """
    examples: dict[str, list[str]] = {} if into is None else into
    for event in events:
        if not isinstance(event, UserUttered) or not event.text or not event.intent_name:
            continue
        if event.text.startswith("/") or event.intent_name in excluded_intents:
            continue
        # One example a line: a line break would split it in the ``examples`` block.
        annotated = annotate_entities(event.text, event.entities, labels_only=labels_only)
        example = annotated.replace("\n", " ")
        texts = examples.setdefault(event.intent_name, [])
        if example not in texts:
            texts.append(example)
    return examples


def nlu_section(examples: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The ``nlu`` items for ``dump_training_data``, intents sorted so exports diff well."""
    return [
        {"intent": intent, "examples": Literal(examples_block(texts))}
        for intent, texts in sorted(examples.items())
    ]


def examples_block(texts: Iterable[str]) -> str:
    """The body of an ``examples: |`` block: one ``- example`` line each."""
    return "".join(f"- {text}\n" for text in texts)


def annotate_entities(text: str, entities: Sequence[dict], *, labels_only: bool = False) -> str:
    """The text with entities written inline: ``[Berlin](city)`` or ``[x]{"entity": ...}``.

    ``labels_only`` is interactive learning's markup: never the value, and the role or
    group as JSON inside the parentheses (``[x]({"entity": "city", "role": "from"})``).
    """
    placed = [
        e
        for e in entities
        if isinstance(e, dict) and isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
    ]
    out, position = [], 0
    for entity in sorted(placed, key=lambda e: e["start"]):
        if entity["start"] < position:
            continue  # overlapping annotations cannot be written inline
        out.append(text[position : entity["start"]])
        surface = text[entity["start"] : entity["end"]]
        markup = _label_markup if labels_only else _entity_markup
        out.append(markup(surface, entity))
        position = entity["end"]
    out.append(text[position:])
    return "".join(out)


def _entity_markup(surface: str, entity: dict) -> str:
    value = entity.get("value")
    if value and value == surface:
        value = None
    details = {
        "entity": entity.get("entity"),
        "role": entity.get("role"),
        "group": entity.get("group"),
        "value": value,
    }
    if details["role"] is None and details["group"] is None and value is None:
        return f"[{surface}]({details['entity']})"
    compact = {k: v for k, v in details.items() if v is not None}
    return f"[{surface}]{json.dumps(compact, ensure_ascii=False)}"


def _label_markup(surface: str, entity: dict) -> str:
    label = str(entity.get("entity"))
    extras = {k: entity[k] for k in ("role", "group") if entity.get(k)}
    if extras:
        label = json.dumps({"entity": label, **extras})
    return f"[{surface}]({label})"


# --- YAML -------------------------------------------------------------------------------


def dump_training_data(**sections: list[dict[str, Any]]) -> str:
    """A training-data file: the quoted ``version`` first, then the sections in order.

    Written by the engine's one dumper (``engine.yaml_text``): ``version`` double-quoted,
    texts (test stories' ``user``, NLU ``examples``) as literal blocks, as Rasa writes them.
    """
    document: dict[str, Any] = {"version": DoubleQuoted(STORY_FORMAT_VERSION), **sections}
    return dump_yaml(document, width=4096)  # one example, one story step a line
