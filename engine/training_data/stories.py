"""Stories and rules: Rasa 3.x YAML (``stories:`` / ``rules:``) read into light step objects.

Stories may branch through checkpoints and ``or`` steps; training needs straight lines, so
``StoryData.linear_stories()`` expands them (with a bound, because checkpoints can loop).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from engine.config import _Yaml12Loader, read_yaml
from engine.errors import BotError
from engine.training_data.nlu import parse_annotated_text

RULE_SNIPPET_ACTION = "..."
STEP_KEYS = {"intent", "user", "entities", "action", "bot", "slot_was_set", "active_loop"}
STEP_KEYS |= {"checkpoint", "or", "metadata", "slot_was_set"}
ITEM_KEYS = {"story", "rule", "steps", "condition", "conversation_start", "wait_for_user_input"}
ITEM_KEYS |= {"metadata"}
MAX_PATHS_PER_START = 200  # checkpoint / `or` expansions kept per starting story
MAX_SEGMENT_REPEATS = 2  # how often one story part may appear in one path (checkpoint loops)


@dataclass(frozen=True)
class UserStep:
    """A user turn: the intent, entities ({entity, value, role?, group?}) and e2e text."""

    intent: str | None
    entities: tuple[dict[str, Any], ...] = ()
    text: str | None = None


@dataclass(frozen=True)
class ActionStep:
    """A bot action by name, or an end-to-end ``bot:`` text (``name`` None)."""

    name: str | None
    text: str | None = None


@dataclass(frozen=True)
class SlotStep:
    """``slot_was_set``: a value, or only a name (``has_value`` False: "set to something")."""

    name: str
    value: Any = None
    has_value: bool = True


@dataclass(frozen=True)
class LoopStep:
    """``active_loop``: a loop (form) became active, or none is (``name`` None)."""

    name: str | None


@dataclass(frozen=True)
class OrStep:
    """Alternatives (user or slot steps); each expansion takes one of them."""

    alternatives: tuple[Any, ...]


@dataclass(frozen=True)
class CheckpointStep:
    name: str


Step = UserStep | ActionStep | SlotStep | LoopStep | OrStep | CheckpointStep


@dataclass
class Story:
    """One story or rule as written (``steps`` may hold checkpoints and ``or``)."""

    name: str
    steps: list[Step]
    is_rule: bool = False
    conditions: list[Step] = field(default_factory=list)
    conversation_start: bool = False
    wait_for_user_input: bool = True
    source: str | None = None
    line: int | None = None
    metadata: dict[str, Any] | None = None

    @property
    def where(self) -> str:
        return f"{self.source or '<data>'}:{self.line}" if self.line else (self.source or "")


StoryStep = Story  # Rasa's name for a story block


@dataclass
class StoryData:
    """Every story and rule of a bot, in file order."""

    stories: list[Story] = field(default_factory=list)
    rules: list[Story] = field(default_factory=list)

    def merge(self, *others: StoryData) -> StoryData:
        result = StoryData(list(self.stories), list(self.rules))
        for other in others:
            result.stories.extend(other.stories)
            result.rules.extend(other.rules)
        return result

    def is_empty(self) -> bool:
        return not (self.stories or self.rules)

    def fingerprint(self) -> str:
        """Stable hash of the content (not of file names or lines): same data, same hash."""
        payload = [_story_payload(story) for story in [*self.stories, *self.rules]]
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def all_steps(self) -> Iterator[Step]:
        for story in [*self.stories, *self.rules]:
            for step in [*story.conditions, *story.steps]:
                yield from step.alternatives if isinstance(step, OrStep) else (step,)

    def intents_used(self) -> set[str]:
        return {s.intent for s in self.all_steps() if isinstance(s, UserStep) and s.intent}

    def actions_used(self) -> set[str]:
        names = {s.name for s in self.all_steps() if isinstance(s, ActionStep) and s.name}
        return names - {RULE_SNIPPET_ACTION}

    def bot_texts_used(self) -> set[str]:
        return {s.text for s in self.all_steps() if isinstance(s, ActionStep) and s.text}

    def slots_used(self) -> set[str]:
        return {s.name for s in self.all_steps() if isinstance(s, SlotStep)}

    def linear_stories(self) -> list[Story]:
        """Stories with checkpoints joined and ``or`` expanded, then rules expanded."""
        return expand_stories(self.stories) + expand_stories(self.rules)


def _story_payload(story: Story) -> dict[str, Any]:
    payload = asdict(story)
    payload.pop("source", None)
    payload.pop("line", None)
    payload["step_types"] = [type(step).__name__ for step in story.steps]
    return payload


# --- reading ------------------------------------------------------------------------------


def story_data_from_yaml(text: str, *, source: str | None = None) -> StoryData:
    """Read a YAML document's ``stories`` and ``rules``; errors name the file and line."""
    data = read_yaml(text, source=source) or {}
    if not isinstance(data, dict):
        raise BotError("a stories file must be a mapping with 'stories' or 'rules'", file=source)
    return story_data_from_dict(data, source=source, lines=_item_lines(text))


def story_data_from_dict(
    data: dict[str, Any],
    *,
    source: str | None = None,
    lines: dict[tuple[str, int], int] | None = None,
) -> StoryData:
    """Build StoryData from already parsed YAML (``lines`` maps (section, index) → line)."""
    result = StoryData()
    for section, is_rule in (("stories", False), ("rules", True)):
        items = (data or {}).get(section) or []
        if not isinstance(items, list):
            raise BotError(f"'{section}' must be a list", file=source, key=section)
        for index, item in enumerate(items):
            line = (lines or {}).get((section, index))
            story = _read_item(item, is_rule, source, line)
            (result.rules if is_rule else result.stories).append(story)
    return result


def load_story_files(paths: Iterable[str | Path]) -> StoryData:
    """Read several files into one StoryData (file order is kept)."""
    result = StoryData()
    for path in paths:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BotError(f"cannot read the file: {exc}", file=str(path)) from exc
        result = result.merge(story_data_from_yaml(text, source=str(path)))
    return result


def _item_lines(text: str) -> dict[tuple[str, int], int]:
    """Line (1-based) of each story and rule, from the YAML node tree."""
    try:
        root = yaml.compose(text, Loader=_Yaml12Loader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError:
        return {}
    lines: dict[tuple[str, int], int] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key_node, value_node in root.value:
        if key_node.value in ("stories", "rules") and isinstance(value_node, yaml.SequenceNode):
            for index, item in enumerate(value_node.value):
                lines[(key_node.value, index)] = item.start_mark.line + 1
    return lines


def _read_item(item: Any, is_rule: bool, source: str | None, line: int | None) -> Story:
    kind = "rule" if is_rule else "story"
    where = f" (line {line})" if line else ""
    if not isinstance(item, dict) or kind not in item:
        raise BotError(f"each entry must be a mapping starting with '{kind}:'{where}", file=source)
    name = str(item[kind])
    context = f"{kind} '{name}'{where}"
    unknown = sorted(set(item) - ITEM_KEYS)
    if unknown:
        raise BotError(f"unknown key '{unknown[0]}' in {context}", file=source, key=unknown[0])
    raw_steps = item.get("steps")
    if not isinstance(raw_steps, list):
        raise BotError(f"{context} needs a list of 'steps'", file=source, key="steps")
    steps = [_read_step(step, context, source) for step in raw_steps]
    conditions = _read_conditions(item.get("condition"), context, source) if is_rule else []
    if not is_rule and ("condition" in item or "conversation_start" in item):
        raise BotError(f"only rules may have conditions ({context})", file=source, key="condition")
    return Story(
        name=name,
        steps=[step for group in steps for step in group],
        is_rule=is_rule,
        conditions=conditions,
        conversation_start=bool(item.get("conversation_start", False)),
        wait_for_user_input=item.get("wait_for_user_input", True) is not False,
        source=source,
        line=line,
        metadata=item.get("metadata"),
    )


def _read_conditions(raw: Any, context: str, source: str | None) -> list[Step]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BotError(f"'condition' of {context} must be a list", file=source, key="condition")
    result: list[Step] = []
    for entry in raw:
        if not isinstance(entry, dict) or not set(entry) <= {"slot_was_set", "active_loop"}:
            raise BotError(
                f"a condition of {context} may only hold 'slot_was_set' or 'active_loop'",
                file=source,
                key="condition",
            )
        result.extend(_read_step(entry, context, source))
    return result


def _read_step(raw: Any, context: str, source: str | None) -> list[Step]:
    """One YAML step → one or more step objects (a ``slot_was_set`` list gives several)."""
    if not isinstance(raw, dict):
        raise BotError(f"a step of {context} must be a mapping, got {raw!r}", file=source)
    unknown = sorted(set(raw) - STEP_KEYS)
    if unknown:
        raise BotError(f"unknown step key '{unknown[0]}' in {context}", file=source, key=unknown[0])
    if "intent" in raw or "user" in raw:
        return [_user_step(raw, context, source)]
    if "action" in raw:
        return [ActionStep(name=str(raw["action"]))]
    if "bot" in raw:
        return [ActionStep(name=None, text=str(raw["bot"]))]
    if "slot_was_set" in raw:
        return _slot_steps(raw["slot_was_set"], context, source)
    if "active_loop" in raw:
        value = raw["active_loop"]
        return [LoopStep(None if value in (None, "null") else str(value))]
    if "checkpoint" in raw:
        return [CheckpointStep(str(raw["checkpoint"]))]
    if "or" in raw:
        return [_or_step(raw["or"], context, source)]
    raise BotError(f"a step of {context} has no intent, action or other step key", file=source)


def _user_step(raw: dict[str, Any], context: str, source: str | None) -> UserStep:
    entities: list[dict[str, Any]] = []
    text = raw.get("user")
    if text is not None:
        text, entities = parse_annotated_text(str(text).strip(), source=source)
    for entry in raw.get("entities") or []:
        if isinstance(entry, str):
            entities.append({"entity": entry})
        elif isinstance(entry, dict) and "entity" in entry:
            entities.append(dict(entry))
        elif isinstance(entry, dict) and len(entry) == 1:
            ((name, value),) = entry.items()
            entities.append({"entity": str(name), "value": value})
        else:
            raise BotError(f"bad entity {entry!r} in {context}", file=source, key="entities")
    intent = raw.get("intent")
    if intent is None and text is None:
        raise BotError(f"a user step of {context} needs 'intent' or 'user'", file=source)
    return UserStep(None if intent is None else str(intent), tuple(entities), text)


def _slot_steps(raw: Any, context: str, source: str | None) -> list[Step]:
    entries = raw if isinstance(raw, list) else [raw]
    steps: list[Step] = []
    for entry in entries:
        if isinstance(entry, str):
            steps.append(SlotStep(entry, None, has_value=False))
        elif isinstance(entry, dict):
            steps.extend(SlotStep(str(name), value) for name, value in entry.items())
        else:
            raise BotError(f"bad slot_was_set {entry!r} in {context}", file=source, key="slot")
    return steps


def _or_step(raw: Any, context: str, source: str | None) -> OrStep:
    if not isinstance(raw, list) or not raw:
        raise BotError(f"'or' in {context} must be a non-empty list", file=source, key="or")
    alternatives: list[Step] = []
    for entry in raw:
        parsed = _read_step(entry, context, source)
        if not all(isinstance(step, UserStep | SlotStep) for step in parsed):
            raise BotError(f"'or' in {context} may hold only intents and slots", file=source)
        alternatives.extend(parsed)
    return OrStep(tuple(alternatives))


# --- expansion into linear stories --------------------------------------------------------


@dataclass
class _Segment:
    story: Story
    starts: list[str]
    steps: list[Step]
    ends: list[str]


def _segments(story: Story) -> list[_Segment]:
    """Split a story at its checkpoints: a leading run starts it, a later run ends a part."""
    runs: list[tuple[list[str], list[Step]]] = [([], [])]
    for step in story.steps:
        if isinstance(step, CheckpointStep):
            if runs[-1][1]:
                runs.append(([], []))
            runs[-1][0].append(step.name)
        else:
            runs[-1][1].append(step)
    segments = [_Segment(story, names, steps, []) for names, steps in runs]
    for previous, following in itertools.pairwise(segments):
        previous.ends = list(following.starts)
    if len(segments) > 1 and not segments[-1].steps:
        segments.pop()  # a trailing checkpoint run only names where the story continues
    return segments


def expand_stories(stories: list[Story]) -> list[Story]:
    """Join checkpointed parts into full paths and expand ``or``; bounded per start."""
    segments = [seg for story in stories for seg in _segments(story)]
    by_start: dict[str, list[int]] = {}
    for index, seg in enumerate(segments):
        for name in seg.starts:
            by_start.setdefault(name, []).append(index)
    result: list[Story] = []
    for index, seg in enumerate(segments):
        if seg.starts:
            continue
        paths = list(itertools.islice(_paths([index], segments, by_start), MAX_PATHS_PER_START))
        for path in paths:
            steps = [step for i in path for step in segments[i].steps]
            for variant in itertools.islice(_expand_or(steps), MAX_PATHS_PER_START):
                result.append(replace(seg.story, steps=variant))
    return result


def _paths(path: list[int], segments: list[_Segment], by_start: dict[str, list[int]]):
    ends = segments[path[-1]].ends
    followers = [i for name in ends for i in by_start.get(name, [])]
    followers = [i for i in followers if path.count(i) < MAX_SEGMENT_REPEATS]
    if not followers:
        yield path
        return
    for follower in followers:
        yield from _paths([*path, follower], segments, by_start)


def _expand_or(steps: list[Step]) -> Iterator[list[Step]]:
    choices = [s.alternatives if isinstance(s, OrStep) else (s,) for s in steps]
    for combination in itertools.product(*choices):
        yield list(combination)
