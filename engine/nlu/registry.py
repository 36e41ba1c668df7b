"""Component names as ``config.yml`` spells them, Rasa's default pipeline, and substitutions.

Components that need libraries we do not ship (transformers, MITIE, spaCy when it or the named
model is missing, and LanguageModelFeaturizer without the optional WordLlama package) are
replaced by sparse equivalents; each replacement is recorded so
training output and the model's metadata can say so.
"""

from __future__ import annotations

from typing import Any

from engine.config import DEFAULT_PIPELINE
from engine.errors import ConfigError
from engine.nlu.classifiers import (
    CRFEntityExtractor,
    DIETClassifier,
    FallbackClassifier,
    KeywordIntentClassifier,
    LinearIntentClassifier,
)
from engine.nlu.component import Component
from engine.nlu.extractors import (
    DucklingEntityExtractor,
    EntitySynonymMapper,
    RegexEntityExtractor,
)
from engine.nlu.featurizers import (
    CountVectorsFeaturizer,
    LexicalSyntacticFeaturizer,
    RegexFeaturizer,
)
from engine.nlu.language_model import LanguageModelFeaturizer, embeddings_installed
from engine.nlu.response_selector import ResponseSelector
from engine.nlu.spacy_components import SPACY_COMPONENTS, spacy_installed, spacy_usable
from engine.nlu.tokenizers import WhitespaceTokenizer

COMPONENTS: dict[str, type[Component]] = {
    cls.name: cls
    for cls in (
        WhitespaceTokenizer,
        RegexFeaturizer,
        LexicalSyntacticFeaturizer,
        CountVectorsFeaturizer,
        DIETClassifier,
        CRFEntityExtractor,
        RegexEntityExtractor,
        EntitySynonymMapper,
        ResponseSelector,
        FallbackClassifier,
        KeywordIntentClassifier,
        DucklingEntityExtractor,
        LinearIntentClassifier,
    )
}


_DENSE_SUBSTITUTE = [
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
]
# What each unavailable component becomes (an empty list: it is dropped).
SUBSTITUTES: dict[str, list[dict[str, Any]]] = {
    "SpacyNLP": [],
    "SpacyTokenizer": [{"name": "WhitespaceTokenizer"}],
    "SpacyFeaturizer": _DENSE_SUBSTITUTE,
    "SpacyEntityExtractor": [],
    "MitieNLP": [],
    "MitieTokenizer": [{"name": "WhitespaceTokenizer"}],
    "MitieFeaturizer": _DENSE_SUBSTITUTE,
    "MitieIntentClassifier": [{"name": "LogisticRegressionClassifier"}],
    "MitieEntityExtractor": [{"name": "CRFEntityExtractor"}],
    "JiebaTokenizer": [{"name": "WhitespaceTokenizer"}],
    "LanguageModelFeaturizer": _DENSE_SUBSTITUTE,
    "ConveRTFeaturizer": _DENSE_SUBSTITUTE,
    "SklearnIntentClassifier": [{"name": "LogisticRegressionClassifier"}],
    "TEDIntentClassifier": [{"name": "LogisticRegressionClassifier"}],
}
_TOKENIZERS = {"SpacyTokenizer", "MitieTokenizer", "JiebaTokenizer"}


def expand_pipeline(
    pipeline: list[dict[str, Any]] | None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The concrete component specs to build, and the notes about substituted components."""
    specs = [dict(spec) for spec in (pipeline or DEFAULT_PIPELINE)]
    concrete: list[dict[str, Any]] = []
    notes: list[str] = []
    have_tokenizer = False
    spacy_model = _spacy_model(specs)
    use_spacy = spacy_usable(spacy_model)
    if use_spacy:
        _check_spacy_order(specs)
    for spec in specs:
        name = _name_of(spec)
        if name in COMPONENTS:
            have_tokenizer = have_tokenizer or name == "WhitespaceTokenizer"
            concrete.append(spec)
        elif name == LanguageModelFeaturizer.name and embeddings_installed():
            concrete.append(spec)
            notes.append(_language_model_note(spec))
        elif use_spacy and name in SPACY_COMPONENTS:
            have_tokenizer = have_tokenizer or name == "SpacyTokenizer"
            concrete.append(spec)
        elif name in SUBSTITUTES:
            replacement = [dict(s) for s in SUBSTITUTES[name]]
            if name in _TOKENIZERS and have_tokenizer:
                replacement = []
            have_tokenizer = have_tokenizer or any(
                s["name"] == "WhitespaceTokenizer" for s in replacement
            )
            concrete.extend(replacement)
            notes.append(_note(name, replacement, spacy_model))
        else:
            raise ConfigError(f"unknown NLU component '{name}' in the pipeline", key="pipeline")
    return concrete, notes


def _spacy_model(specs: list[Any]) -> str | None:
    """SpacyNLP's ``model`` option: a spaCy package name or the path of a saved pipeline."""
    for spec in specs:
        if isinstance(spec, dict) and spec.get("name") == "SpacyNLP" and spec.get("model"):
            return str(spec["model"])
    return None


def _check_spacy_order(specs: list[dict[str, Any]]) -> None:
    """The spaCy components read the Doc SpacyNLP makes, so it has to run first."""
    for spec in specs:
        name = _name_of(spec)
        if name == "SpacyNLP":
            return
        if name in SPACY_COMPONENTS:
            raise ConfigError(f"{name} needs SpacyNLP before it in the pipeline", key="pipeline")


def _name_of(spec: Any) -> str:
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise ConfigError(f"every pipeline entry needs a 'name'; got {spec!r}", key="pipeline")
    return spec["name"]


def _note(name: str, replacement: list[dict[str, Any]], spacy_model: str | None) -> str:
    why = "its library is not part of this engine"
    if name.startswith("Spacy"):
        model = spacy_model or "a spaCy model"
        why = f"spaCy and the model '{model}' are not installed"
        if spacy_installed() and spacy_model:
            why = f"the spaCy model '{model}' is not installed or cannot be loaded"
    if not replacement:
        return f"{name} was left out ({why})"
    names = " + ".join(
        s["name"] + (f" ({s['analyzer']})" if s.get("analyzer") else "") for s in replacement
    )
    return f"{name} was replaced by {names} ({why})"


def _language_model_note(spec: dict[str, Any]) -> str:
    asked = spec.get("model_weights") or spec.get("model_name") or "bert"
    return f"LanguageModelFeaturizer runs WordLlama's packaged model instead of '{asked}'"


def build(spec: dict[str, Any], *, language: str, seed: int) -> Component:
    options = {k: v for k, v in spec.items() if k != "name"}
    if spec["name"] == LanguageModelFeaturizer.name:
        return LanguageModelFeaturizer(options, language=language, seed=seed)
    component = COMPONENTS.get(spec["name"]) or SPACY_COMPONENTS[spec["name"]]
    return component(options, language=language, seed=seed)
