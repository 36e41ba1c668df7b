"""NLU evaluation as Rasa reports it (API.md 4.13): intents, entities and response selection.

``evaluate_nlu`` scores a trained pipeline on labelled data; ``cross_validate_nlu`` trains one
pipeline per fold. Reports are scikit-learn ``classification_report`` dicts, like Rasa's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, f1_score, precision_score
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.model_selection import StratifiedKFold

from engine.nlu.pipeline import NLUPipeline
from engine.nlu.tokenizers import WhitespaceTokenizer
from engine.training_data.nlu import Example, NLUTrainingData

NO_ENTITY = "no_entity"


def _scores(gold: list[str], predicted: list[str]) -> dict[str, Any]:
    if not gold:
        return {"report": {}, "precision": 0.0, "f1_score": 0.0, "accuracy": 0.0}
    kwargs: dict[str, Any] = {"average": "weighted", "zero_division": 0}
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    return {
        "report": report,
        "precision": float(precision_score(gold, predicted, **kwargs)),
        "f1_score": float(f1_score(gold, predicted, **kwargs)),
        "accuracy": float(accuracy_score(gold, predicted)),
    }


def _intent_evaluation(examples: list[Example], results: list[dict]) -> dict[str, Any]:
    gold, predicted, predictions, errors = [], [], [], []
    for example, result in zip(examples, results, strict=True):
        if not example.intent:
            continue
        name = result["intent"]["name"] or "None"
        gold.append(example.intent)
        predicted.append(name)
        row = {
            "text": example.text,
            "intent": example.intent,
            "predicted": name,
            "confidence": result["intent"]["confidence"],
        }
        predictions.append(row)
        if name != example.intent:
            errors.append(
                {
                    "text": example.text,
                    "intent": example.intent,
                    "intent_prediction": result["intent"],
                }
            )
    return {**_scores(gold, predicted), "predictions": predictions, "errors": errors}


def _token_labels(text: str, entities: list[dict], tokens: list) -> list[str]:
    labels = []
    for token in tokens:
        label = next(
            (e["entity"] for e in entities if e["start"] < token.end and e["end"] > token.start),
            NO_ENTITY,
        )
        labels.append(label)
    return labels


def _entity_evaluation(examples: list[Example], results: list[dict]) -> dict[str, Any]:
    """Token-level entity labels per extractor (``no_entity`` for untagged tokens), as Rasa."""
    tokenizer = WhitespaceTokenizer({})
    extractors = sorted(
        {e["extractor"] for r in results for e in r["entities"] if "extractor" in e}
    )
    evaluation: dict[str, Any] = {}
    for extractor in extractors:
        gold, predicted, errors = [], [], []
        for example, result in zip(examples, results, strict=True):
            tokens = tokenizer.tokenize(example.text)
            mine = [e for e in result["entities"] if e.get("extractor") == extractor]
            wanted = _token_labels(example.text, example.entities, tokens)
            got = _token_labels(example.text, mine, tokens)
            gold.extend(wanted)
            predicted.extend(got)
            if wanted != got:
                errors.append(
                    {"text": example.text, "entities": example.entities, "predicted_entities": mine}
                )
        evaluation[extractor] = {**_scores(gold, predicted), "errors": errors}
    return evaluation


def _response_evaluation(examples: list[Example], results: list[dict]) -> dict[str, Any]:
    gold, predicted, errors = [], [], []
    for example, result in zip(examples, results, strict=True):
        selector = result.get("response_selector")
        if not example.response_key or not selector:
            continue
        chosen = selector.get(example.intent) or selector.get("default") or {}
        key = (chosen.get("response") or {}).get("intent_response_key") or "None"
        gold.append(str(example.full_intent))
        predicted.append(key)
        if key != example.full_intent:
            errors.append(
                {
                    "text": example.text,
                    "intent_response_key_target": example.full_intent,
                    "intent_response_key_prediction": chosen.get("response"),
                }
            )
    return {**_scores(gold, predicted), "errors": errors}


def evaluate_nlu(pipeline: NLUPipeline, data: NLUTrainingData) -> dict[str, Any]:
    """Parse every example and score intents, entities and retrieval responses."""
    examples = list(data.examples)
    results = [pipeline.parse(example.text) for example in examples]
    return {
        "intent_evaluation": _intent_evaluation(examples, results),
        "entity_evaluation": _entity_evaluation(examples, results),
        "response_selection_evaluation": _response_evaluation(examples, results),
    }


def _folds(data: NLUTrainingData, folds: int, seed: int) -> list[tuple[list[int], list[int]]]:
    labels = [ex.full_intent or "" for ex in data.examples]
    smallest = min(labels.count(label) for label in set(labels))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    if smallest < folds:  # stratification needs every intent in every fold; fall back to plain
        indices = np.random.default_rng(seed).permutation(len(labels))
        return [
            (sorted(set(indices) - set(part)), sorted(part))
            for part in np.array_split(indices, folds)
        ]
    return [(list(a), list(b)) for a, b in splitter.split(np.zeros(len(labels)), labels)]


def cross_validate_nlu(
    pipeline_config: list[dict[str, Any]] | None,
    data: NLUTrainingData,
    folds: int,
    language: str = "en",
) -> dict[str, Any]:
    """Train on k-1 folds, test on the held-out one; report mean scores and all errors."""
    if folds < 2 or len(data.examples) < folds:
        raise ValueError("cross-validation needs at least 2 folds and one example per fold")
    runs = []
    for train_idx, test_idx in _folds(data, folds, seed=42):
        pipeline = NLUPipeline.from_config(pipeline_config, language=language)
        pipeline.train(_subset(data, train_idx))
        runs.append(evaluate_nlu(pipeline, _subset(data, test_idx)))
    return {
        "intent_evaluation": _mean([run["intent_evaluation"] for run in runs]),
        "entity_evaluation": {
            name: _mean(
                [run["entity_evaluation"][name] for run in runs if name in run["entity_evaluation"]]
            )
            for name in sorted({n for run in runs for n in run["entity_evaluation"]})
        },
        "response_selection_evaluation": _mean(
            [run["response_selection_evaluation"] for run in runs]
        ),
    }


def _subset(data: NLUTrainingData, indices: list[int]) -> NLUTrainingData:
    return NLUTrainingData(
        [data.examples[i] for i in indices],
        dict(data.synonyms),
        list(data.regexes),
        list(data.lookups),
    )


def _mean(evaluations: list[dict[str, Any]]) -> dict[str, Any]:
    def avg(key: str) -> float:
        return float(np.mean([e[key] for e in evaluations])) if evaluations else 0.0

    return {
        "precision": avg("precision"),
        "f1_score": avg("f1_score"),
        "accuracy": avg("accuracy"),
        "report": [e["report"] for e in evaluations],
        "errors": [error for e in evaluations for error in e["errors"]],
    }


def confusion_matrix(intent_evaluation: dict[str, Any]) -> dict[str, Any]:
    """Labels and counts (rows: true intent, columns: predicted) for a report or a plot."""
    predictions = intent_evaluation.get("predictions", [])
    gold = [p["intent"] for p in predictions]
    predicted = [p["predicted"] for p in predictions]
    labels = sorted(set(gold) | set(predicted))
    matrix = sk_confusion_matrix(gold, predicted, labels=labels) if labels else np.zeros((0, 0))
    return {"labels": labels, "matrix": matrix.tolist()}
