from __future__ import annotations

from engine.nlu import NLUPipeline
from engine.nlu_evaluation import confusion_matrix, cross_validate_nlu, evaluate_nlu
from engine.training_data import load_nlu_files
from tests.conftest import BOTS


def test_it_evaluates_intents_and_entities_in_rasas_shape() -> None:
    data = load_nlu_files([BOTS / "formbot/data/nlu.yml"])
    pipeline = NLUPipeline.from_config(None)
    pipeline.train(data)
    result = evaluate_nlu(pipeline, data)
    assert set(result) == {
        "intent_evaluation",
        "entity_evaluation",
        "response_selection_evaluation",
    }
    intents = result["intent_evaluation"]
    assert {"report", "precision", "f1_score", "accuracy", "errors", "predictions"} <= set(intents)
    assert intents["accuracy"] > 0.9
    assert "weighted avg" in intents["report"]
    assert result["entity_evaluation"]["DIETClassifier"]["f1_score"] > 0.8
    matrix = confusion_matrix(intents)
    assert len(matrix["matrix"]) == len(matrix["labels"])


def test_it_cross_validates() -> None:
    data = load_nlu_files([BOTS / "initbot/data/nlu.yml"])
    result = cross_validate_nlu(None, data, folds=3)
    intents = result["intent_evaluation"]
    assert {"precision", "f1_score", "report", "errors", "accuracy"} <= set(intents)
    assert len(intents["report"]) == 3
    assert 0.5 < intents["accuracy"] <= 1.0
