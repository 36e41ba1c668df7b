from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from engine.errors import ConfigError, ModelLoadError
from engine.model import load_model
from engine.nlu import NLUPipeline
from engine.nlu.message import Message
from engine.nlu.spacy_components import SpacyFeaturizer
from engine.project import load_project
from engine.training import train
from engine.training_data import nlu_data_from_yaml

spacy = pytest.importorskip("spacy")

NLU = """
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello there
    - hi
    - good morning
    - hey friend
- intent: buy
  examples: |
    - I want an apple
    - buy me a banana
    - can I order some apple juice
    - I would like to buy fruit
- intent: travel
  examples: |
    - book a trip to new york
    - I want to fly to paris
    - take me to new york please
    - a ticket to london
"""
DOMAIN = """
version: "3.1"
intents: [greet, buy, travel]
"""
TEXTS = ["hello friend", "I want an Apple", "fly me to New York", "good morning paris"]
VECTORS = {
    "apple": [1.0, 0.0, -0.5, 0.0],
    "banana": [0.9, 0.1, -0.4, 0.0],
    "york": [0.0, 1.0, 0.0, 0.3],
    "paris": [0.0, 0.9, 0.1, 0.4],
    "hello": [-1.0, 0.0, 0.0, 1.0],
}


def _save_spacy_pipeline(folder: Path) -> Path:
    """A blank English spaCy pipeline with an entity ruler and a few word vectors."""
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [
            {"label": "FRUIT", "pattern": "apple"},
            {"label": "FRUIT", "pattern": "banana"},
            {"label": "GPE", "pattern": [{"LOWER": "new"}, {"LOWER": "york"}]},
            {"label": "GPE", "pattern": "paris"},
        ]
    )
    for word, vector in VECTORS.items():
        nlp.vocab.set_vector(word, np.array(vector, dtype=np.float32))
    nlp.to_disk(folder)
    return folder


def _pipeline(model: str | Path, dimensions: list[str] | None = None) -> list[dict]:
    return [
        {"name": "SpacyNLP", "model": str(model)},
        {"name": "SpacyTokenizer"},
        {"name": "SpacyFeaturizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "DIETClassifier", "entity_recognition": False},
        {"name": "SpacyEntityExtractor", "dimensions": dimensions},
    ]


def _write_bot(folder: Path, pipeline: list[dict]) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "nlu.yml").write_text(NLU)
    (folder / "domain.yml").write_text(DOMAIN)
    config = {"recipe": "default.v1", "language": "en", "pipeline": pipeline, "policies": []}
    (folder / "config.yml").write_text(yaml.safe_dump(config))
    return folder


@pytest.fixture(scope="module")
def spacy_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_spacy_pipeline(tmp_path_factory.mktemp("spacy") / "pipe")


@pytest.fixture(scope="module")
def trained(spacy_model: Path) -> NLUPipeline:
    pipeline = NLUPipeline.from_config(_pipeline(spacy_model))
    pipeline.train(nlu_data_from_yaml(NLU))
    return pipeline


def test_it_uses_spacy_without_substitution_when_the_model_loads(trained: NLUPipeline) -> None:
    assert trained.substitutions == []
    assert trained.component_names[:3] == ["SpacyNLP", "SpacyTokenizer", "SpacyFeaturizer"]


def test_it_takes_tokens_and_offsets_from_spacy(trained: NLUPipeline) -> None:
    message = Message("Don't go, New-York!")
    for component in trained.components[:2]:
        component.process(message)
    # spaCy splits contractions and punctuation, which the whitespace tokenizer does not.
    assert [t.text for t in message.tokens] == ["Do", "n't", "go", ",", "New", "-", "York", "!"]
    assert all(message.text[t.start : t.end] == t.text for t in message.tokens)


def test_it_adds_dense_sentence_and_token_features_from_vectors(trained: NLUPipeline) -> None:
    message = Message("hello apple pie")
    for component in trained.components[:3]:
        component.process(message)
    sentence = message.sentence_features[-1].toarray().ravel()
    # mean of the two known vectors, split into positive and negative halves
    mean = (np.array(VECTORS["hello"]) + np.array(VECTORS["apple"])) / 2
    np.testing.assert_allclose(sentence, np.concatenate([mean.clip(0), (-mean).clip(0)]))
    assert message.token_features[1]["vec:0"] == pytest.approx(1.0)
    assert not any(key.startswith("vec:") for key in message.token_features[2])


def test_it_pools_with_max_when_asked(trained: NLUPipeline) -> None:
    featurizer = SpacyFeaturizer({"pooling": "max"})
    message = Message("apple banana")
    for component in trained.components[:2]:
        component.process(message)
    featurizer.process(message)
    assert message.sentence_features[-1].toarray().ravel()[:4].tolist() == pytest.approx(
        [1.0, 0.1, 0.0, 0.0]
    )


def test_it_extracts_spacy_entities_filtered_by_dimensions(
    trained: NLUPipeline, spacy_model: Path
) -> None:
    result = trained.parse("fly me to New York for an apple")
    found = {(e["entity"], e["value"], e["extractor"]) for e in result["entities"]}
    assert found == {
        ("GPE", "New York", "SpacyEntityExtractor"),
        ("FRUIT", "apple", "SpacyEntityExtractor"),
    }
    assert result["intent"]["name"] == "travel"
    only_fruit = NLUPipeline.from_config(_pipeline(spacy_model, dimensions=["FRUIT"]))
    only_fruit.train(nlu_data_from_yaml(NLU))
    entities = only_fruit.parse("fly me to New York for an apple")["entities"]
    assert [(e["entity"], e["start"], e["end"]) for e in entities] == [("FRUIT", 26, 31)]


def test_it_classifies_with_spacy_features(trained: NLUPipeline) -> None:
    assert trained.parse("hello there friend")["intent"]["name"] == "greet"
    assert trained.parse("buy a banana")["intent"]["name"] == "buy"


def test_it_round_trips_an_archive_and_reloads_spacy_by_path(
    spacy_model: Path, tmp_path: Path
) -> None:
    bot = _write_bot(tmp_path / "bot", _pipeline(spacy_model))
    result = train(load_project(bot), output_dir=tmp_path / "models")
    assert result.substitutions == []
    with tarfile.open(result.path) as tar:
        names = tar.getnames()
        metadata = json.loads(tar.extractfile("metadata.json").read())
    assert metadata["substituted_components"] == []
    # The spaCy pipeline is named, not stored: no vocab, vectors or config of its own.
    assert not any(name.endswith(("vectors", "strings.json", "config.cfg")) for name in names)
    fresh = NLUPipeline.from_config(_pipeline(spacy_model))
    fresh.train(nlu_data_from_yaml(NLU))
    model = load_model(result.path)
    for text in TEXTS:
        assert model.parse(text) == fresh.parse(text)


def test_it_refuses_to_load_when_the_spacy_model_is_gone(spacy_model: Path, tmp_path: Path) -> None:
    moved = shutil.copytree(spacy_model, tmp_path / "pipe")
    bot = _write_bot(tmp_path / "bot", _pipeline(moved))
    path = train(load_project(bot), output_dir=tmp_path / "models").path
    shutil.rmtree(moved)
    with pytest.raises(ModelLoadError, match="spaCy model .*pipe.* cannot be loaded"):
        load_model(path)


def test_it_substitutes_when_the_named_model_is_not_installed(tmp_path: Path) -> None:
    pipeline = NLUPipeline.from_config(_pipeline("en_core_web_md"))
    assert "SpacyNLP" not in pipeline.component_names
    assert pipeline.component_names[0] == "WhitespaceTokenizer"
    assert any("en_core_web_md" in note for note in pipeline.substitutions)
    missing = NLUPipeline.from_config(_pipeline(tmp_path / "no-such-pipe"))
    assert "SpacyNLP" not in missing.component_names and missing.substitutions


def test_it_requires_spacy_nlp_before_the_other_spacy_components(spacy_model: Path) -> None:
    specs = _pipeline(spacy_model)
    specs[0], specs[1] = specs[1], specs[0]
    with pytest.raises(ConfigError, match="SpacyTokenizer needs SpacyNLP"):
        NLUPipeline.from_config(specs)


def test_it_does_not_import_spacy_for_ordinary_engine_imports() -> None:
    code = (
        "import sys, engine.model, engine.training, engine.nlu.registry; "
        "from engine.nlu import NLUPipeline; NLUPipeline.from_config(None); "
        "NLUPipeline.from_config([{'name': 'SpacyNLP', 'model': 'en_core_web_md'}]); "
        "print('spacy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
