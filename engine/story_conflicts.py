"""Story and rule conflicts: the same history followed by different bot actions.

As Rasa's story conflict check does, each story is replayed into the dialogue states a policy
sees before each bot action (the latest intent and its entities, the previous action, the
slots that influence the conversation, the active loop), with the ``action_listen`` a bot turn
ends with. Two stories conflict when their last ``max_history`` states before an action are
the same and the actions differ: no policy can learn both. Rules are matched whole, so two
rules conflict only when their whole histories (conditions included) are the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.dialogue_states import PREV_ACTION, USER, State, StateBuilder, state_key
from engine.domain import Domain
from engine.events import ACTION_LISTEN
from engine.policies.training_trackers import story_events
from engine.training_data.stories import RULE_SNIPPET_ACTION, Story, StoryData, expand_stories

CONVERSATION_START: State = {"conversation_start": {}}


@dataclass(frozen=True)
class StoryConflict:
    """One history with several next actions: ``predictions`` is [(action, story names)]."""

    after: str
    predictions: list[tuple[str, list[str]]]
    where: str
    is_rule: bool = False


def find_story_conflicts(
    stories: StoryData, domain: Domain, *, max_history: int
) -> list[StoryConflict]:
    """Conflicts among stories (by their last ``max_history`` states) and among rules."""
    builder = StateBuilder(domain)
    found = _conflicts(expand_stories(stories.stories), domain, builder, window=max_history)
    return found + _conflicts(expand_stories(stories.rules), domain, builder, window=None)


def _points(story: Story, domain: Domain, builder: StateBuilder):
    """(states before the action, the action) for every bot action the story predicts,
    as the policies see the story (``engine.dialogue_states``); a rule's history starts
    after its last ``...``."""
    states, labels = builder.states(story_events(story, domain), rule=story.is_rule)
    history: list[State] = [CONVERSATION_START] if story.conversation_start else []
    for state, label in zip(states, labels, strict=False):
        if label == RULE_SNIPPET_ACTION:
            history = []
            continue
        history.append(state)
        yield list(history), label


def _conflicts(
    stories: list[Story], domain: Domain, builder: StateBuilder, *, window: int | None
) -> list[StoryConflict]:
    seen: dict[str, dict[str, list[Story]]] = {}
    last_state: dict[str, State] = {}
    for story in stories:
        for history, action in _points(story, domain, builder):
            key = state_key(history[-window:] if window else history)
            seen.setdefault(key, {}).setdefault(action, []).append(story)
            last_state[key] = history[-1]
    return [
        _conflict(by_action, last_state[key])
        for key, by_action in seen.items()
        if len(by_action) > 1
    ]


def _conflict(by_action: dict[str, list[Story]], state: State) -> StoryConflict:
    predictions = [
        (action, list(dict.fromkeys(story.name for story in stories)))
        for action, stories in by_action.items()
    ]
    wheres = [story.where for stories in by_action.values() for story in stories]
    return StoryConflict(
        after=_after(state),
        predictions=predictions,
        where=", ".join(dict.fromkeys(w for w in wheres if w)),
        is_rule=next(iter(by_action.values()))[0].is_rule,
    )


def _after(state: State) -> str:
    previous = state.get(PREV_ACTION, {})
    action = previous.get("action_name") or previous.get("action_text")
    intent = state.get(USER, {}).get("intent")
    if action == ACTION_LISTEN and intent:
        return f"intent '{intent}'"
    return f"action '{action}'" if action else "the start"
