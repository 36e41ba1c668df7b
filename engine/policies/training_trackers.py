"""Training trackers: linear stories and rules as event sequences, plus story augmentation.

Augmentation follows Rasa's idea: conversations rarely start where a story starts, so
stories that end waiting for the user (``action_listen``) are glued in front of other
stories at random. The number is bounded by the augmentation factor, the choice is seeded,
and rules are never augmented (they must match exactly what they say).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from engine.dialogue_states import slot_value_any
from engine.events import ACTION_LISTEN, ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from engine.training_data.stories import (
    RULE_SNIPPET_ACTION,
    ActionStep,
    LoopStep,
    SlotStep,
    Story,
    StoryData,
    UserStep,
)

AUGMENTATION_ROUNDS = 2


@dataclass
class TrainingTracker:
    """One training conversation: its events and where it came from."""

    name: str
    events: list[Event]
    is_rule: bool = False
    is_augmented: bool = False
    conversation_start: bool = False
    sources: list[str] = field(default_factory=list)

    def ends_listening(self) -> bool:
        last = self.events[-1] if self.events else None
        return isinstance(last, ActionExecuted) and last.action_name == ACTION_LISTEN


def story_events(story: Story, domain: Any) -> list[Event]:
    """The explicit events of one linear story or rule, like Rasa's story trackers hold."""
    slots = {slot.name: slot for slot in domain.slots}
    events: list[Event] = [_step_event(step, slots) for step in story.conditions]
    if story.is_rule and not story.conversation_start:
        events.append(ActionExecuted(RULE_SNIPPET_ACTION))
    for step in story.steps:
        if isinstance(step, UserStep):
            _add_listen(events)
            events.append(_step_event(step, slots))
            events.extend(_slots_for_entities(step, domain))
        else:
            events.append(_step_event(step, slots))
    if story.is_rule and not story.wait_for_user_input:
        events.append(ActionExecuted(RULE_SNIPPET_ACTION))
    else:
        _add_listen(events)
    return events


def _add_listen(events: list[Event]) -> None:
    last = events[-1] if events else None
    if not (isinstance(last, ActionExecuted) and last.action_name == ACTION_LISTEN):
        events.append(ActionExecuted(ACTION_LISTEN))


def _step_event(step: Any, slots: dict[str, Any]) -> Event:
    if isinstance(step, UserStep):
        entities = [dict(e) for e in step.entities]
        intent = {"name": step.intent, "confidence": 1.0} if step.intent else None
        return UserUttered(step.text, intent, entities)
    if isinstance(step, ActionStep):
        return ActionExecuted(step.name, action_text=step.text)
    if isinstance(step, SlotStep):
        value = step.value if step.has_value else slot_value_any(slots.get(step.name))
        return SlotSet(step.name, value)
    if isinstance(step, LoopStep):
        return ActiveLoop(step.name)
    raise TypeError(f"not a linear story step: {step!r}")


def _slots_for_entities(step: UserStep, domain: Any) -> list[Event]:
    """Entities in a story also fill slots mapped ``from_entity`` (as Rasa's stories do)."""
    result: list[Event] = []
    for entity in step.entities:
        name, value = entity.get("entity"), entity.get("value")
        if value is None:
            continue
        for slot in domain.slots:
            for mapping in getattr(slot, "mappings", None) or []:
                if mapping.get("type") == "from_entity" and mapping.get("entity") == name:
                    result.append(SlotSet(slot.name, value))
                    break
    return result


def training_trackers(
    story_data: StoryData, domain: Any, *, augmentation: int = 50, seed: int = 42
) -> list[TrainingTracker]:
    """Story trackers (original then augmented) followed by rule trackers."""
    stories, rules = [], []
    for story in story_data.linear_stories():
        tracker = TrainingTracker(
            story.name,
            story_events(story, domain),
            is_rule=story.is_rule,
            conversation_start=story.conversation_start,
            sources=[story.where],
        )
        (rules if story.is_rule else stories).append(tracker)
    return stories + augment(stories, augmentation, seed) + rules


def augment(stories: list[TrainingTracker], factor: int, seed: int) -> list[TrainingTracker]:
    """Glue finished stories in front of stories, ``factor`` starts per round, bounded."""
    if factor <= 0 or not stories:
        return []
    rng = random.Random(seed)
    limit = factor * 10
    seen = {_fingerprint(t.events) for t in stories}
    result: list[TrainingTracker] = []
    finished = [t for t in stories if t.ends_listening()]
    for _ in range(AUGMENTATION_ROUNDS):
        starts = rng.sample(finished, min(factor, len(finished)))
        glued = [_glue(start, story) for start in starts for story in stories]
        glued = [t for t in glued if _fingerprint(t.events) not in seen]
        if len(glued) > limit:
            glued = rng.sample(glued, limit)
        for tracker in glued:
            seen.add(_fingerprint(tracker.events))
        result.extend(glued)
        finished = [t for t in glued if t.ends_listening()] or finished
    return result[:limit]


def _glue(first: TrainingTracker, second: TrainingTracker) -> TrainingTracker:
    tail = second.events
    if tail and isinstance(tail[0], ActionExecuted) and tail[0].action_name == ACTION_LISTEN:
        tail = tail[1:]
    return TrainingTracker(
        f"{first.name} > {second.name}",
        [*first.events, *tail],
        is_augmented=True,
        sources=[*first.sources, *second.sources],
    )


def _fingerprint(events: list[Event]) -> tuple:
    return tuple((e.type_name, repr(e._eq_key())) for e in events)
