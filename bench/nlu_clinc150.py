"""Measure the default NLU pipeline on CLINC150: train on data/nlu.yml, score validation_nlu.yml.

Run: ``.venv/bin/python bench/nlu_clinc150.py [BOT_DIR] [KEY=VALUE ...] [--embeddings]``. Prints
in-scope intent accuracy (with and without the FallbackClassifier), out-of-scope recall
(``out_of_scope`` or ``nlu_fallback`` counts as caught), training time and parse latency p50/p99.
KEY=VALUE sets a DIETClassifier option; ``--embeddings`` adds a LanguageModelFeaturizer after the
count vectors (needs ``requirements-embeddings.txt``).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable without PYTHONPATH

from engine.nlu import NLUPipeline  # noqa: E402
from engine.training_data import load_nlu_files  # noqa: E402

BOT = Path(__file__).resolve().parents[2] / "shared/reference/bots/clinc150"
OUT_OF_SCOPE = {"out_of_scope", "nlu_fallback"}


def _config() -> list[dict] | None:
    """Rasa's default pipeline, with DIET options overridable as KEY=VALUE arguments."""
    from engine.nlu import DEFAULT_PIPELINE

    overrides = dict(arg.split("=", 1) for arg in sys.argv[1:] if "=" in arg)
    embeddings = "--embeddings" in sys.argv[1:]
    if not overrides and not embeddings:
        return None
    specs = [dict(spec) for spec in DEFAULT_PIPELINE]
    for spec in specs:
        if spec["name"] == "DIETClassifier":
            spec.update({k: float(v) for k, v in overrides.items()})
    if embeddings:
        specs.insert(5, {"name": "LanguageModelFeaturizer"})  # after the two count vectors
    return specs


def clinc_scores(parse: Callable[[str], dict], examples: list) -> dict[str, Any]:
    """In-scope accuracy of the classifier alone (the published figures' measure: the top
    intent other than ``nlu_fallback``) and after the FallbackClassifier; OOS recall."""
    in_scope = raw_hits = fallback_hits = oos_total = oos_caught = 0
    latencies = []
    for example in examples:
        started = time.perf_counter()
        result = parse(example.text)
        latencies.append((time.perf_counter() - started) * 1000)
        top = result["intent"]["name"]
        raw = next(
            (r["name"] for r in result["intent_ranking"] if r["name"] != "nlu_fallback"), None
        )
        if example.intent == "out_of_scope":
            oos_total += 1
            oos_caught += top in OUT_OF_SCOPE
        else:
            in_scope += 1
            raw_hits += raw == example.intent
            fallback_hits += top == example.intent
    latencies.sort()
    return {
        "classifier_accuracy": raw_hits / max(in_scope, 1),
        "fallback_accuracy": fallback_hits / max(in_scope, 1),
        "oos_recall": oos_caught / max(oos_total, 1),
        "parse_p50": statistics.median(latencies),
        "parse_p99": latencies[int(len(latencies) * 0.99)],
    }


def main(bot: Path) -> None:
    train = load_nlu_files([bot / "data/nlu.yml"])
    valid = load_nlu_files([bot / "validation_nlu.yml"])
    pipeline = NLUPipeline.from_config(_config())
    for note in pipeline.substitutions:
        print(f"note                 {note}")
    started = time.perf_counter()
    pipeline.train(train)
    train_seconds = time.perf_counter() - started
    scores = clinc_scores(pipeline.parse, valid.examples)
    print(f"train examples       {len(train.examples)}  intents {len(train.intents)}")
    print(f"training time        {train_seconds:.1f} s")
    model = next(c.model for c in pipeline.components if c.name == "DIETClassifier")
    print(f"softmax temperature  {model.temperature:.3f} (fitted on held-out scores unless given)")
    print(f"in-scope accuracy    {scores['classifier_accuracy']:.4f} (classifier)")
    print(f"in-scope accuracy    {scores['fallback_accuracy']:.4f} (after FallbackClassifier)")
    print(f"out-of-scope recall  {scores['oos_recall']:.4f} (out_of_scope or nlu_fallback)")
    print(
        f"parse latency        p50 {scores['parse_p50']:.2f} ms  p99 {scores['parse_p99']:.2f} ms"
    )


if __name__ == "__main__":
    paths = [arg for arg in sys.argv[1:] if "=" not in arg and not arg.startswith("--")]
    main(Path(paths[0]) if paths else BOT)
