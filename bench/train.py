"""Benchmark: train the reference bots and measure quality and latency (issue 4).

Run: ``.venv/bin/python bench/train.py [--bots initbot,moodbot,formbot] [--no-clinc]``.
Prints one Markdown table for the reference bots and one row for clinc150.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.events import ActionExecuted, SessionStarted, UserUttered  # noqa: E402
from engine.model import Model, load_model  # noqa: E402
from engine.nlu_evaluation import cross_validate_nlu  # noqa: E402
from engine.project import Project, load_project  # noqa: E402
from engine.story_evaluation import run_story_evaluation  # noqa: E402
from engine.tracker import Tracker  # noqa: E402
from engine.training import train  # noqa: E402
from engine.training_data.nlu import load_nlu_files  # noqa: E402
from engine.training_data.stories import load_story_files  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from nlu_clinc150 import clinc_scores  # noqa: E402

BOTS = ROOT.parent / "shared" / "reference" / "bots"
LATENCY_SAMPLES = 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def timed_ms(call: Any, inputs: list[Any]) -> list[float]:
    """Wall time of each call in milliseconds, cycling through the inputs."""
    times = []
    for index in range(LATENCY_SAMPLES):
        item = inputs[index % len(inputs)]
        start = time.perf_counter()
        call(item)
        times.append((time.perf_counter() - start) * 1000)
    return times


def prediction_trackers(model: Model) -> list[Tracker]:
    """A fresh conversation per user intent: the usual state a turn predicts from."""
    trackers = []
    for intent in model.domain.user_intents:
        events = [
            ActionExecuted("action_session_start"),
            SessionStarted(),
            ActionExecuted("action_listen"),
            UserUttered(f"/{intent}", {"name": intent, "confidence": 1.0}),
        ]
        trackers.append(Tracker.from_events("bench", events, model.domain.slot_defaults()))
    return trackers


def bench_bot(name: str) -> dict[str, Any]:
    project = load_project(BOTS / name)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = train(project, output_dir=out, force=True)
        row: dict[str, Any] = {"bot": name, "train_s": time.perf_counter() - started}
        row["archive_kb"] = result.path.stat().st_size / 1024
        model = load_model(result.path)
    row.update(cross_validation(project))
    row["story_accuracy"] = story_accuracy(project, model)
    texts = [example.text for example in project.nlu.examples]
    parse_ms = timed_ms(model.parse, texts)
    predict_ms = timed_ms(model.predict, prediction_trackers(model))
    row["parse_p50"], row["parse_p99"] = percentile(parse_ms, 0.5), percentile(parse_ms, 0.99)
    row["predict_p50"] = percentile(predict_ms, 0.5)
    row["predict_p99"] = percentile(predict_ms, 0.99)
    return row


def cross_validation(project: Project) -> dict[str, float]:
    config = project.config
    result = cross_validate_nlu(config.pipeline, project.nlu, 5, config.language)
    intents = result["intent_evaluation"]
    macro = [report["macro avg"]["f1-score"] for report in intents["report"]]
    return {"cv_accuracy": intents["accuracy"], "cv_macro_f1": statistics.mean(macro)}


def story_accuracy(project: Project, model: Model) -> float | None:
    if not project.test_files:
        return None
    stories = load_story_files(project.test_files)
    evaluation = run_story_evaluation(
        stories, ensemble=model.policies, domain=model.domain, parse=model.parse
    )
    return evaluation.result["accuracy"]


def bench_clinc() -> dict[str, Any]:
    project = load_project(BOTS / "clinc150")
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = train(project, output_dir=out, force=True)
        train_s = time.perf_counter() - started
        archive_kb = result.path.stat().st_size / 1024
        model = load_model(result.path)
    validation = load_nlu_files([BOTS / "clinc150" / "validation_nlu.yml"])
    scores = clinc_scores(model.parse, validation.examples)
    return {"train_s": train_s, "archive_kb": archive_kb, **scores}


def print_bot_table(rows: list[dict[str, Any]]) -> None:
    print(
        "| bot | train (s) | archive (KB) | CV intent acc | CV macro F1 | test-story action acc "
        "| parse p50 / p99 (ms) | predict p50 / p99 (ms) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        story = "n/a (no tests/)" if r["story_accuracy"] is None else f"{r['story_accuracy']:.3f}"
        print(
            f"| {r['bot']} | {r['train_s']:.2f} | {r['archive_kb']:.0f} | {r['cv_accuracy']:.3f} "
            f"| {r['cv_macro_f1']:.3f} | {story} | {r['parse_p50']:.2f} / {r['parse_p99']:.2f} "
            f"| {r['predict_p50']:.2f} / {r['predict_p99']:.2f} |"
        )


def print_clinc_row(row: dict[str, Any]) -> None:
    print()
    print(
        "| clinc150 | train (s) | archive (KB) | in-scope accuracy, classifier "
        "| in-scope accuracy, after FallbackClassifier | OOS recall | parse p50 (ms) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| default pipeline | {row['train_s']:.1f} | {row['archive_kb']:.0f} "
        f"| {row['classifier_accuracy']:.3f} | {row['fallback_accuracy']:.3f} "
        f"| {row['oos_recall']:.3f} | {row['parse_p50']:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bots", default="initbot,moodbot,formbot")
    parser.add_argument("--no-clinc", action="store_true", help="skip the clinc150 row")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # substitution notes and Duckling warnings, not results
    print_bot_table([bench_bot(name) for name in args.bots.split(",") if name])
    if not args.no_clinc:
        print_clinc_row(bench_clinc())


if __name__ == "__main__":
    main()
