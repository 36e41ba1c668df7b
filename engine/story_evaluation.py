"""Evaluating test stories: replay each story, compare every action with the prediction.

The result has the keys of ``POST /model/test/stories`` (API.md 4.12); stories with a wrong
prediction are written as Rasa's ``failed_test_stories.yml`` (``# predicted: x`` comments).
As in Rasa's evaluation, a form predicted where the story does something else is assumed to
have rejected its turn, and the prediction is made again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.events import ACTION_LISTEN, ActionExecuted, ActionExecutionRejected, UserUttered
from engine.policies.training_trackers import story_events
from engine.training_data.stories import RULE_SNIPPET_ACTION, Story, StoryData

ParseFunction = Callable[[str], dict]
ML_POLICIES = ("TEDPolicy", "UnexpecTEDIntentPolicy")


@dataclass
class _Turn:
    """One written step of a replayed story, with the mistake found there (if any)."""

    lines: list[str]
    mistake: str | None = None


@dataclass
class StoryEvaluation:
    result: dict[str, Any]
    failed_stories_yaml: str
    successful_stories_yaml: str
    failed_story_names: list[str] = field(default_factory=list)


def evaluate_stories(
    test_data: StoryData,
    *,
    ensemble: Any,
    domain: Any,
    parse: ParseFunction | None = None,
    e2e: bool = False,
) -> dict[str, Any]:
    """The API.md 4.12 report for these test stories."""
    return run_story_evaluation(
        test_data, ensemble=ensemble, domain=domain, parse=parse, e2e=e2e
    ).result


def run_story_evaluation(
    test_data: StoryData,
    *,
    ensemble: Any,
    domain: Any,
    parse: ParseFunction | None = None,
    e2e: bool = False,
) -> StoryEvaluation:
    """Replay every test story; collect per-action predictions and the failed stories."""
    actions: list[dict[str, Any]] = []
    failed, passed, failed_names = [], [], []
    for story in test_data.linear_stories():
        turns, story_actions = _replay(story, ensemble, domain, parse if e2e else None)
        actions.extend(story_actions)
        written = _write_story(story, turns)
        if any(turn.mistake for turn in turns):
            failed.append(written)
            failed_names.append(story.name)
        else:
            passed.append(written)
    stories_total = len(failed) + len(passed)
    result = _metrics(actions, stories_total, len(passed))
    result["is_end_to_end_evaluation"] = bool(e2e)
    return StoryEvaluation(result, _document(failed), _document(passed), failed_names)


def _replay(
    story: Story, ensemble: Any, domain: Any, parse: ParseFunction | None
) -> tuple[list[_Turn], list[dict[str, Any]]]:
    from engine.tracker import Tracker

    tracker = Tracker(story.name, domain.slot_defaults())
    turns: list[_Turn] = []
    actions: list[dict[str, Any]] = []
    events = story_events(story, domain)
    for event in events:
        if isinstance(event, ActionExecuted) and event.action_name != RULE_SNIPPET_ACTION:
            if event is events[0] and event.action_name == ACTION_LISTEN:
                tracker.update(event)  # every story starts listening; nothing to predict
                continue
            record = _predict_action(tracker, ensemble, domain, event)
            actions.append(record)
            event = ActionExecuted(
                event.action_name,
                record["policy"],
                record["confidence"],
                action_text=event.action_text,
            )
            turns.append(_action_turn(event, record))
        elif isinstance(event, UserUttered):
            event, turn = _user_turn(event, parse)
            turns.append(turn)
        else:
            turns.append(_Turn(_other_lines(event)))
        tracker.update(event)
    return turns, actions


def _predict_action(tracker: Any, ensemble: Any, domain: Any, gold: ActionExecuted) -> dict:
    gold_name = gold.action_name or gold.action_text
    prediction = ensemble.predict(tracker, domain)
    loop = tracker.active_loop_name
    if loop and prediction.action_name == loop and gold_name != loop:
        tracker.update(ActionExecutionRejected(loop))  # the form would have refused the turn
        prediction = ensemble.predict(tracker, domain)
    return {
        "action": gold_name,
        "predicted": prediction.action_name,
        "confidence": float(prediction.confidence),
        "policy": prediction.policy_name,
    }


def _user_turn(event: UserUttered, parse: ParseFunction | None) -> tuple[UserUttered, _Turn]:
    gold = event.intent_name
    lines = [f"- intent: {gold}"]
    mistake = None
    if parse is not None and event.text:
        parsed = parse(event.text) or {}
        predicted = (parsed.get("intent") or {}).get("name")
        if predicted != gold:
            mistake = f"predicted: {predicted}: {event.text}"
            lines[0] += f"  # {mistake}"
        event = UserUttered(event.text, parsed.get("intent"), parsed.get("entities"), parsed)
    if event.text:
        lines.append("  user: |-")
        lines.extend(f"    {line}" for line in _annotated(event).splitlines() or [""])
    return event, _Turn(lines, mistake)


def _annotated(event: UserUttered) -> str:
    text = event.text or ""
    spans = sorted(
        (e for e in event.entities if e.get("start") is not None and e.get("end") is not None),
        key=lambda e: e["start"],
        reverse=True,
    )
    for entity in spans:
        start, end = int(entity["start"]), int(entity["end"])
        text = f"{text[:start]}[{text[start:end]}]({entity['entity']}){text[end:]}"
    return text


def _action_turn(event: ActionExecuted, record: dict[str, Any]) -> _Turn:
    if event.action_name == ACTION_LISTEN:
        line = None
    elif event.action_name:
        line = f"- action: {event.action_name}"
    else:
        line = f"- bot: {event.action_text}"
    mistake = None
    if record["predicted"] != record["action"]:
        mistake = f"predicted: {record['predicted']}"
        line = f"{line or '- action: action_listen'}  # {mistake}"
    return _Turn([line] if line else [], mistake)


def _other_lines(event: Any) -> list[str]:
    if event.type_name == "slot":
        return ["- slot_was_set:", f"  - {event.key}: {_yaml_scalar(event.value)}"]
    if event.type_name == "active_loop":
        return [f"- active_loop: {event.name if event.name else 'null'}"]
    return []


def _yaml_scalar(value: Any) -> str:
    import json

    return "null" if value is None else json.dumps(value, ensure_ascii=False)


def _write_story(story: Story, turns: list[_Turn]) -> str:
    where = f" ({story.source})" if story.source else ""
    lines = [f"- story: {story.name}{where}", "  steps:"]
    lines.extend(f"  {line}" for turn in turns for line in turn.lines)
    return "\n".join(lines)


def _document(stories: list[str]) -> str:
    if not stories:
        return "# None of the test stories failed - all good!\n"
    return 'version: "3.1"\nstories:\n' + "\n".join(stories) + "\n"


def _metrics(actions: list[dict[str, Any]], stories: int, correct_stories: int) -> dict[str, Any]:
    """Weighted precision/F1 and accuracy over actions, like Rasa's story report."""
    from sklearn.metrics import accuracy_score, classification_report, f1_score, precision_score

    gold = [a["action"] for a in actions]
    predicted = [str(a["predicted"]) for a in actions]
    report: dict[str, Any] = {}
    precision = f1 = accuracy = 0.0
    if actions:
        report = classification_report(gold, predicted, output_dict=True, zero_division=0)
        precision = precision_score(gold, predicted, average="weighted", zero_division=0)
        f1 = f1_score(gold, predicted, average="weighted", zero_division=0)
        accuracy = accuracy_score(gold, predicted)
    report["conversation_accuracy"] = {
        "accuracy": correct_stories / stories if stories else 0.0,
        "correct": correct_stories,
        "with_warnings": 0,
        "total": stories,
    }
    from_training = [a for a in actions if a["policy"] and a["policy"] not in ML_POLICIES]
    return {
        "report": report,
        "precision": float(precision),
        "f1": float(f1),
        "accuracy": float(accuracy),
        "actions": actions,
        "in_training_data_fraction": len(from_training) / len(actions) if actions else 0.0,
    }
