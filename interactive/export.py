"""Turn a taught conversation into Rasa training data: stories, NLU examples, domain additions.

Reading and writing go through ruamel.yaml's round-trip mode so the author's comments, key
order and quoting survive; we only ever append.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from engine import story_writer as writer
from engine.domain import DEFAULT_ACTIONS, DEFAULT_INTENTS
from engine.events import events_from_dicts
from interactive.events import conversation_segments, entities_of, intent_name

# Interactive stories name the plain intent (``faq``, not ``faq/ask_name``), keep entity
# roles and groups, show ``action_unlikely_intent`` but never ``action_extract_slots``;
# their NLU examples use the on-screen markup (labels only).
STORY_STEPS = writer.StepOptions(
    retrieval_intents=False,
    entity_roles=True,
    skipped_actions=writer.IMPLIED_ACTIONS | {"action_extract_slots"},
)
STORY_PREFIX = "interactive_story_"


@dataclass
class DomainAdditions:
    intents: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    responses: dict[str, list[dict]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.intents or self.entities or self.actions or self.responses)


@dataclass(frozen=True)
class ExportPaths:
    stories: Path
    nlu: Path
    domain: Path

    @classmethod
    def for_bot(cls, bot: str | Path) -> ExportPaths:
        """A bot folder's files; a split ``domain/`` folder gets its own additions file."""
        root = Path(bot)
        domain = root / "domain.yml"
        if not domain.exists() and (root / "domain").is_dir():
            domain = root / "domain" / "interactive.yml"
        return cls(root / "data" / "stories.yml", root / "data" / "nlu.yml", domain)


def stories_from_events(events: list[dict]) -> list[list[dict[str, Any]]]:
    """One story per conversation part (split at restarts and session starts)."""
    parts = conversation_segments(events)
    steps = (writer.story_steps(events_from_dicts(part), STORY_STEPS) for part in parts)
    return [story for story in steps if story]


def nlu_examples(events: list[dict]) -> dict[str, list[str]]:
    """Annotated example texts per intent; intent shortcuts (``/greet``) are not examples."""
    applied = [event for part in conversation_segments(events) for event in part]
    return writer.nlu_examples(events_from_dicts(applied), labels_only=True)


def domain_additions(events: list[dict], domain: dict[str, Any]) -> DomainAdditions:
    """What the conversation uses that the server's domain (``GET /domain``) lacks."""
    known_intents = {_name(i) for i in domain.get("intents") or []} | set(DEFAULT_INTENTS)
    known_entities = {_name(e) for e in domain.get("entities") or []}
    responses = domain.get("responses") or {}
    known_actions = set(domain.get("actions") or []) | set(responses) | set(DEFAULT_ACTIONS)
    known_actions |= set(domain.get("forms") or {})
    additions = DomainAdditions()
    for part in conversation_segments(events):
        for event in part:
            _collect(event, additions, known_intents, known_entities, known_actions, responses)
    return additions


def _collect(event, additions, known_intents, known_entities, known_actions, responses) -> None:
    kind = event.get("event")
    if kind == "user":
        _add_new(additions.intents, [intent_name(event)], known_intents)
        _add_new(additions.entities, [e.get("entity") for e in entities_of(event)], known_entities)
    elif kind == "bot":
        utter = (event.get("metadata") or {}).get("utter_action")
        if utter and utter not in responses and utter not in additions.responses:
            additions.responses[utter] = [{"text": event.get("text") or ""}]
    elif kind == "action":
        name = event.get("name")
        if name and not name.startswith("utter_"):
            _add_new(additions.actions, [name], known_actions)


def _add_new(target: list[str], names: list[str | None], known: set[str]) -> None:
    for name in names:
        if name and name not in known and name not in target:
            target.append(name)


def _name(item: Any) -> str:
    return next(iter(item)) if isinstance(item, dict) else str(item)


# --- writing -------------------------------------------------------------------------------
def _yaml(sequence: int = 2, offset: int = 0) -> YAML:
    # Rasa files indent mappings by 2; lists vary (``- x`` flush or indented), so they follow
    # what the file had.
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=max(sequence, offset + 2), offset=offset)
    yaml.width = 4096
    return yaml


class _Document:
    """A YAML file's mapping and the indentation it was written with (kept on writing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        self.indent, self.offset = 2, 0
        if not text.strip():
            self.data = CommentedMap()
            self.data["version"] = DoubleQuotedScalarString(writer.STORY_FORMAT_VERSION)
            return
        _, indent, offset = load_yaml_guess_indent(text)
        self.indent, self.offset = indent or 2, offset or 0  # ruamel's guess
        self.data = _yaml().load(text)
        if not isinstance(self.data, CommentedMap):
            raise ValueError(f"{path} is not a YAML mapping; not writing into it")

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", encoding="utf-8") as handle:
            _yaml(self.indent, self.offset).dump(self.data, handle)


def _seq(document: CommentedMap, key: str) -> list:
    """The list under ``key``; an empty ``key:`` (null) becomes a list."""
    if not isinstance(document.get(key), list):
        document[key] = CommentedSeq()
    return document[key]


def write_stories(path: Path, stories: list[list[dict[str, Any]]]) -> int:
    """Append the stories to ``path`` (created when missing); returns how many were written."""
    if not stories:
        return 0
    file = _Document(path)
    existing = _seq(file.data, "stories")
    number = _next_story_number(existing)
    for offset, steps in enumerate(stories):
        story = CommentedMap()
        story["story"] = f"{STORY_PREFIX}{number + offset}"
        story["steps"] = steps
        existing.append(story)
    file.save()
    return len(stories)


def _next_story_number(stories: list) -> int:
    pattern = re.compile(re.escape(STORY_PREFIX) + r"(\d+)$")
    numbers = [
        int(m.group(1))
        for s in stories
        if isinstance(s, dict) and (m := pattern.match(str(s.get("story", ""))))
    ]
    return max(numbers, default=0) + 1


def write_nlu(path: Path, examples: dict[str, list[str]]) -> int:
    """Add the examples not yet in ``path`` under their intent; returns how many were added."""
    file = _Document(path)
    items = _seq(file.data, "nlu")
    added = 0
    for intent, texts in examples.items():
        block = next((i for i in items if isinstance(i, dict) and i.get("intent") == intent), None)
        old = str(block.get("examples", "")) if block is not None else ""
        present = {line.strip()[2:].strip() for line in old.splitlines() if line.strip()}
        new = [t for t in texts if t not in present]
        if not new:
            continue
        added += len(new)
        body = (old.rstrip("\n") + "\n" if old.strip() else "") + writer.examples_block(new)
        if block is None:
            block = CommentedMap()
            block["intent"] = intent
            items.append(block)
        block["examples"] = LiteralScalarString(body)
    if added:
        file.save()
    return added


def write_domain(path: Path, additions: DomainAdditions) -> None:
    """Merge the additions into the domain file, keeping everything the author wrote."""
    if additions.is_empty():
        return
    file = _Document(path)
    document = file.data
    for key in ("intents", "entities", "actions"):
        names = [n for n in getattr(additions, key) if n not in _names(document.get(key))]
        if names:
            _seq(document, key).extend(names)
    if additions.responses:
        if not isinstance(document.get("responses"), dict):
            document["responses"] = CommentedMap()
        responses = document["responses"]
        for name, variants in additions.responses.items():
            responses.setdefault(name, variants)
    file.save()


def _names(items: Any) -> set[str]:
    return {_name(item) for item in items or []}


def export_conversation(events: list[dict], domain: dict[str, Any], paths: ExportPaths) -> str:
    """Write stories, NLU examples and domain additions; a one-line summary for the author."""
    stories = write_stories(paths.stories, stories_from_events(events))
    examples = write_nlu(paths.nlu, nlu_examples(events))
    additions = domain_additions(events, domain)
    write_domain(paths.domain, additions)
    added = len(additions.intents) + len(additions.actions) + len(additions.responses)
    return (
        f"Exported {stories} story(ies) to {paths.stories}, {examples} NLU example(s) to "
        f"{paths.nlu}, {added} domain addition(s) to {paths.domain}."
    )
