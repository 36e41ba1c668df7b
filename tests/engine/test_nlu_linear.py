from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from engine.nlu import NLUPipeline
from engine.nlu.linear import LinearModel, fit_calibration
from engine.nlu.message import Message
from engine.nlu.storage import Store
from engine.training_data import nlu_data_from_yaml

DOC = """
nlu:
- intent: greet
  examples: |
    - hello there
    - hi
    - good morning
- intent: goodbye
  examples: |
    - bye bye
    - see you later
    - good night
- intent: weather
  examples: |
    - will it rain today
    - what is the weather like
    - is it sunny outside
"""


def _featurised(texts: list[str], pipeline: NLUPipeline) -> list[Message]:
    messages = []
    for text in texts:
        message = Message(text)
        for component in pipeline.components[:-1]:  # every featurizer, not the classifier
            component.process(message)
        messages.append(message)
    return messages


@pytest.fixture(scope="module")
def trained() -> tuple[LinearModel, NLUPipeline]:
    pipeline = NLUPipeline.from_config(
        [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "max_ngram": 4},
            {"name": "DIETClassifier"},
        ]
    )
    pipeline.train(nlu_data_from_yaml(DOC))
    model = pipeline.components[-1].model
    assert model is not None
    return model, pipeline


def test_it_gives_confidences_that_are_probabilities(
    trained: tuple[LinearModel, NLUPipeline],
) -> None:
    model, pipeline = trained
    probs = model.predict(_featurised(["hello", "rain tomorrow?", "zzz"], pipeline))
    assert probs.shape == (3, 3)
    assert np.all((probs >= 0) & (probs <= 1))
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert model.classes[probs[0].argmax()] == "greet"
    assert model.classes[probs[1].argmax()] == "weather"


def test_it_is_less_sure_of_unrelated_text(trained: tuple[LinearModel, NLUPipeline]) -> None:
    model, pipeline = trained
    probs = model.predict(_featurised(["good morning", "qwxz"], pipeline))
    assert probs[0].max() > probs[1].max()


def test_it_predicts_identically_after_save_and_load(
    trained: tuple[LinearModel, NLUPipeline], tmp_path: Path
) -> None:
    model, pipeline = trained
    state = model.save(Store(tmp_path), "intent")
    loaded = LinearModel()
    loaded.load(Store(tmp_path), "intent", state)
    messages = _featurised(["see you", "sunny today"], pipeline)
    assert loaded.temperature == model.temperature
    assert np.allclose(loaded.predict(messages), model.predict(messages))


def test_it_scores_one_message_as_the_batch_does(
    trained: tuple[LinearModel, NLUPipeline],
) -> None:
    """A parse takes the one-message path; evaluation the matrix path: same numbers."""
    model, pipeline = trained
    texts = ["hello hello there there hello hello there", "sunny today", "qwxz", ""]
    batch = model.predict(_featurised(texts, pipeline))
    for row, text in enumerate(texts):
        assert np.allclose(model.predict(_featurised([text], pipeline))[0], batch[row])


def test_it_separates_two_intents_with_a_two_way_softmax() -> None:
    pipeline = NLUPipeline.from_config(
        [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "DIETClassifier"},
        ]
    )
    pipeline.train(nlu_data_from_yaml(DOC.split("- intent: weather")[0]))
    ranking = pipeline.parse("hello")["intent_ranking"]
    assert [r["name"] for r in ranking] == ["greet", "goodbye"]
    assert ranking[0]["confidence"] + ranking[1]["confidence"] == pytest.approx(1.0)


def _scores(rng: np.random.Generator, rows: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
    """Three-class scores where the true class leads by ``spread`` on average, noisily."""
    targets = np.arange(rows) % 3
    scores = rng.normal(0.0, 1.0, (rows, 3))
    scores[np.arange(rows), targets] += spread
    return scores, targets


def test_it_fits_a_hotter_temperature_to_noisier_scores() -> None:
    rng = np.random.default_rng(0)
    clean, _ = fit_calibration(*_scores(rng, 600, 4.0))
    noisy, _ = fit_calibration(*_scores(rng, 600, 1.0))
    assert 0.02 <= clean < noisy <= 1.0


def test_it_gives_an_under_scored_class_a_positive_offset() -> None:
    rng = np.random.default_rng(1)
    scores, targets = _scores(rng, 600, 3.0)
    scores[:, 2] -= 1.5  # one-vs-rest scores a diffuse class (out_of_scope) too low
    _, offsets = fit_calibration(scores, targets)
    assert offsets[2] > offsets[0] and offsets[2] > offsets[1]


def test_it_keeps_a_given_temperature_when_calibrating() -> None:
    temperature, offsets = fit_calibration(*_scores(np.random.default_rng(2), 300, 2.0), 0.5)
    assert temperature == 0.5 and offsets.shape == (3,)


def test_it_calibrates_when_every_intent_has_enough_examples() -> None:
    words = {"greet": "hello hi hey", "bye": "bye ciao farewell", "ask": "what why how"}
    lines = ["nlu:"]
    for intent, vocab in words.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [
            f"    - {w} number {i}" for i in range(12) for w in vocab.split()[i % 3 : i % 3 + 1]
        ]
    pipeline = NLUPipeline.from_config(
        [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "DIETClassifier"},
        ]
    )
    pipeline.train(nlu_data_from_yaml("\n".join(lines)))
    model = pipeline.components[-1].model
    assert model.offsets is not None and model.offsets.any()  # fitted, not the zero default
    assert pipeline.parse("hey there")["intent"]["name"] == "greet"


def test_it_predicts_identically_after_two_trainings_on_the_same_data() -> None:
    config = [{"name": "WhitespaceTokenizer"}, {"name": "CountVectorsFeaturizer"}]
    config.append({"name": "DIETClassifier"})
    first, second = NLUPipeline.from_config(config), NLUPipeline.from_config(config)
    first.train(nlu_data_from_yaml(DOC))
    second.train(nlu_data_from_yaml(DOC))
    assert first.parse("good morning") == second.parse("good morning")


def test_it_keeps_idf_weights_on_data_too_small_to_hold_out(
    trained: tuple[LinearModel, NLUPipeline],
) -> None:
    model, _ = trained
    assert model.idf is not None and model.idf.max() > 1.0


def _calibratable_data() -> str:
    """Three intents with 12 examples each: enough to hold a fifth out."""
    words = {"greet": "hello hi hey", "bye": "bye ciao farewell", "ask": "what why how"}
    lines = ["nlu:"]
    for intent, vocab in words.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {vocab.split()[i % 3]} number {i}" for i in range(12)]
    return "\n".join(lines)


@pytest.mark.parametrize(("use_idf", "flat"), [(True, False), (False, True)])
def test_it_weights_n_grams_as_told(use_idf: bool, flat: bool) -> None:
    pipeline = NLUPipeline.from_config(
        [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "DIETClassifier", "use_idf": use_idf},
        ]
    )
    pipeline.train(nlu_data_from_yaml(_calibratable_data()))
    model = pipeline.components[-1].model
    assert bool(np.all(model.idf == 1.0)) is flat


def test_it_chooses_the_weighting_that_scores_the_held_out_examples_best() -> None:
    pipeline = NLUPipeline.from_config(
        [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "DIETClassifier"},
        ]
    )
    pipeline.train(nlu_data_from_yaml(_calibratable_data()))
    model = pipeline.components[-1].model
    # Both weightings separate these intents perfectly: a tie keeps idf, the first tried.
    assert model.idf.max() > 1.0
    assert model.offsets is not None and model.offsets.any()


def test_it_fits_the_same_model_with_the_classes_split_between_two_threads() -> None:
    rng = np.random.default_rng(3)
    targets = np.arange(200) % 6
    features = rng.random((200, 30))
    features[np.arange(200), targets * 5] += 2.0  # each class has its own strong column
    model = LinearModel()
    model.classes = np.arange(6)
    one = model._svm(sp.csr_matrix(features), targets, 0)
    two = model._svm_on_two_threads(sp.csr_matrix(features), targets, 0)
    assert np.allclose(one[0], two[0], atol=1e-3) and np.allclose(one[1], two[1], atol=1e-3)
