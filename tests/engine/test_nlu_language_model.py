"""LanguageModelFeaturizer: WordLlama's packaged model when installed, count vectors otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.nlu import NLUPipeline, registry
from engine.training_data import nlu_data_from_yaml

CONFIG = [
    {"name": "WhitespaceTokenizer"},
    {"name": "LanguageModelFeaturizer", "model_name": "bert"},
    {"name": "DIETClassifier"},
]
DOC = """
nlu:
- intent: greet
  examples: |
    - hello there
    - hi
    - good morning
- intent: weather
  examples: |
    - will it rain today
    - what is the weather like
    - is it sunny outside
"""


def test_it_substitutes_count_vectors_without_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(registry, "embeddings_installed", lambda: False)
    pipeline = NLUPipeline.from_config(CONFIG)
    assert "LanguageModelFeaturizer" not in pipeline.component_names
    assert pipeline.component_names.count("CountVectorsFeaturizer") == 2
    assert any("LanguageModelFeaturizer was replaced" in n for n in pipeline.substitutions)


def test_it_embeds_with_the_packaged_model_and_says_so(tmp_path: Path) -> None:
    pytest.importorskip("wordllama")
    pipeline = NLUPipeline.from_config(CONFIG)
    assert "LanguageModelFeaturizer" in pipeline.component_names
    assert any("instead of 'bert'" in note for note in pipeline.substitutions)
    pipeline.train(nlu_data_from_yaml(DOC))
    # No word is shared with the training examples: only the embedding can tell.
    assert pipeline.parse("is a storm coming")["intent"]["name"] == "weather"
    pipeline.persist(tmp_path)
    loaded = NLUPipeline.load(tmp_path)
    assert loaded.parse("greetings") == pipeline.parse("greetings")
