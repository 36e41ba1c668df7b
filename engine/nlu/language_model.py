"""LanguageModelFeaturizer from a sentence-embedding model that installs from PyPI.

Rasa's LanguageModelFeaturizer runs a transformer (BERT, GPT, ...) whose weights come from the
Hugging Face hub at run time, which a server here cannot reach. This one embeds the sentence
with WordLlama (MIT licence, ``requirements-embeddings.txt``), whose default model (256-d
static token embeddings, 16 MB) is inside its wheel; it is loaded with downloads disabled, so
nothing is fetched, ever. Without the package the registry substitutes sparse featurizers, as
for the other components we cannot run. Like SpacyFeaturizer it stores nothing: loading an
archive loads the packaged model again. It adds one sentence-feature block (no per-token
features: the model has no context, so its token vectors would tell the CRF little).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ModelLoadError
from engine.nlu.component import Component
from engine.nlu.message import Message
from engine.nlu.spacy_components import signed_block
from engine.training_data.nlu import NLUTrainingData

PACKAGE = "wordllama"
# The one configuration whose weights and tokenizer ship inside the wheel.
MODEL = {"config": "l2_supercat", "dim": 256}
_LOADED: list[Any] = []
_LOCK = threading.Lock()


def embeddings_installed() -> bool:
    return importlib.util.find_spec(PACKAGE) is not None


def load_embedder() -> Any:
    """The packaged WordLlama model, loaded once per process; never downloads."""
    with _LOCK:  # two pipelines loading at once would each read the 16 MB file
        if not _LOADED:
            try:
                import wordllama
                from wordllama import WordLlama
            except ImportError as exc:
                raise ModelLoadError(
                    "LanguageModelFeaturizer needs the 'wordllama' package "
                    "(pip install -r requirements-embeddings.txt)"
                ) from exc
            # The wheel keeps its tokenizer in tokenizers/, where load() looks in a cache dir
            # (its own folder lookup says tokenizer/): the package folder as the cache finds both.
            package_dir = Path(wordllama.__file__).parent
            try:
                _LOADED.append(
                    WordLlama.load(**MODEL, cache_dir=package_dir, disable_download=True)
                )
            except (FileNotFoundError, ValueError) as exc:
                problem = f"the packaged WordLlama model cannot be loaded: {exc}"
                raise ModelLoadError(problem) from exc
        return _LOADED[0]


class LanguageModelFeaturizer(Component):
    """One dense sentence embedding per message, as a sentence-feature block."""

    name = "LanguageModelFeaturizer"
    defaults = {"model_name": "bert", "model_weights": None, "cache_dir": None}

    def train(self, messages: list[Message], data: NLUTrainingData) -> None:
        vectors = self._embed([message.text for message in messages])
        for message, vector in zip(messages, vectors, strict=True):
            message.sentence_features.append(signed_block(vector))

    def process(self, message: Message) -> None:
        message.sentence_features.append(signed_block(self._embed([message.text])[0]))

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length vectors; an empty text embeds as zeros."""
        vectors = np.asarray(load_embedder().embed(texts, norm=True), dtype=np.float32)
        return np.nan_to_num(vectors)
