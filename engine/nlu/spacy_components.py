"""The spaCy components: SpacyNLP, SpacyTokenizer, SpacyFeaturizer and SpacyEntityExtractor.

spaCy is imported only when a pipeline names SpacyNLP with a model that can be loaded: the
import alone takes over a second, which ordinary engine imports must not pay. As in Rasa, the
spaCy pipeline is not stored in the model archive; the archive names the model (a package name
or a path) and loading the archive loads that model again.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from engine.errors import ConfigError, ModelLoadError
from engine.nlu.component import Component
from engine.nlu.message import Message, Token
from engine.nlu.storage import Store
from engine.training_data.nlu import NLUTrainingData

logger = logging.getLogger(__name__)

# The Doc SpacyNLP made for a message, read by the spaCy components after it.
_DOC_ATTRIBUTE = "spacy_doc"
# One loaded spaCy pipeline per model name or path, shared by every NLU pipeline in the process.
_LOADED: dict[str, Any] = {}
_LOCK = threading.Lock()


def spacy_installed() -> bool:
    return importlib.util.find_spec("spacy") is not None


def model_installed(model: str | None) -> bool:
    """Cheap check (nothing imported): spaCy is there and ``model`` is a folder or a package."""
    if not model or not spacy_installed():
        return False
    if Path(model).expanduser().is_dir():
        return True
    try:
        return importlib.util.find_spec(str(model).replace("-", "_")) is not None
    except (ImportError, ValueError):  # a name that cannot be a module (relative, dotted path)
        return False


def spacy_usable(model: str | None) -> bool:
    """Whether SpacyNLP can really run with ``model`` (loads it, so the first answer costs)."""
    if not model_installed(model):
        return False
    try:
        load_spacy(str(model))
    except ModelLoadError as exc:
        logger.warning("%s", exc)
        return False
    return True


def load_spacy(model: str) -> Any:
    """The spaCy pipeline for a package name or path, loaded once per process (per version)."""
    key = _cache_key(model)
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load(model)
        return _LOADED[key]


def _cache_key(model: str) -> str:
    """A folder is identified by where it is and when its meta was written, so a folder that
    was removed or saved again is loaded again rather than served from memory."""
    folder = Path(model).expanduser()
    meta = folder / "meta.json"
    if not meta.is_file():
        return model
    return f"{folder.resolve()}@{meta.stat().st_mtime_ns}"


def _load(model: str) -> Any:
    if not spacy_installed():
        raise ModelLoadError(
            f"SpacyNLP needs spaCy to load the model '{model}', but spaCy is not installed"
        )
    import spacy  # deferred: see the module docstring

    source = str(Path(model).expanduser()) if Path(model).expanduser().is_dir() else model
    try:
        # Rasa leaves the dependency parser out: nothing here reads it and it is slow.
        return spacy.load(source, disable=["parser"])
    except Exception as exc:  # a user's model folder can fail in many ways; all mean "unusable"
        raise ModelLoadError(
            f"the spaCy model '{model}' named by SpacyNLP cannot be loaded ({exc}); install it "
            "or point SpacyNLP's 'model' at an existing spaCy pipeline folder"
        ) from exc


def doc_of(message: Message, component: str) -> Any:
    """The spaCy Doc of ``message``; SpacyNLP must have run before ``component``."""
    doc = getattr(message, _DOC_ATTRIBUTE, None)
    if doc is None:
        raise ConfigError(f"{component} needs SpacyNLP before it in the pipeline", key="pipeline")
    return doc


class SpacyNLP(Component):
    """Runs the spaCy model over each message; the other spaCy components read its Doc."""

    name = "SpacyNLP"
    defaults = {"model": None, "case_sensitive": False}

    def __init__(self, options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        if not self.options["model"]:
            raise self.option_error("model", "must name a spaCy model package or folder")
        self.model = str(self.options["model"])
        self.nlp = load_spacy(self.model)

    def _prepared(self, text: str) -> str:
        """Rasa lower-cases unless ``case_sensitive``; offsets must survive, so only if they do."""
        if self.options["case_sensitive"]:
            return text
        lowered = text.lower()
        return lowered if len(lowered) == len(text) else text

    def train(self, messages: list[Message], data: NLUTrainingData) -> None:
        docs = self.nlp.pipe(self._prepared(message.text) for message in messages)
        for message, doc in zip(messages, docs, strict=True):
            setattr(message, _DOC_ATTRIBUTE, doc)

    def process(self, message: Message) -> None:
        setattr(message, _DOC_ATTRIBUTE, self.nlp(self._prepared(message.text)))

    def persist(self, store: Store) -> dict[str, Any]:
        return {"model": self.model, "spacy_model": self._identity()}

    def restore(self, state: dict[str, Any], store: Store) -> None:
        if state.get("spacy_model") != self._identity():
            logger.warning(
                "SpacyNLP: the model was trained with spaCy model %s but '%s' is now %s; "
                "predictions may differ until it is retrained.",
                state.get("spacy_model"),
                self.model,
                self._identity(),
            )

    def _identity(self) -> dict[str, Any]:
        meta = self.nlp.meta
        return {
            "lang": meta.get("lang"),
            "name": meta.get("name"),
            "version": meta.get("version"),
            "vectors": int(self.nlp.vocab.vectors_length),
        }


class SpacyTokenizer(Component):
    """Tokens as spaCy splits them, with character offsets into the original text."""

    name = "SpacyTokenizer"
    defaults = {
        "intent_tokenization_flag": False,
        "intent_split_symbol": "_",
        "token_pattern": None,
    }

    def process(self, message: Message) -> None:
        doc = doc_of(message, self.name)
        tokens = [
            Token(message.text[t.idx : t.idx + len(t)], t.idx, t.idx + len(t))
            for t in doc
            if t.text.strip()
        ]
        pattern = self.options["token_pattern"]
        if pattern:  # Rasa splits each token further into the pattern's matches
            tokens = [
                Token(m.group(0), t.start + m.start(), t.start + m.end())
                for t in tokens
                for m in re.finditer(pattern, t.text)
                if m.group(0)
            ]
        message.tokens = tokens


class SpacyFeaturizer(Component):
    """Dense features from the model's word vectors: pooled per sentence, and per token.

    The sentence vector is added as one more sentence-feature block, split into its positive
    and negative parts: the linear classifier log-scales each block by absolute value, which
    would otherwise merge v and -v. Token vectors join the CRF's per-token features. Nothing is
    stored: the features come from the spaCy model loaded again with the archive.
    """

    name = "SpacyFeaturizer"
    defaults = {"pooling": "mean"}

    def __init__(self, options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        if self.options["pooling"] not in ("mean", "max"):
            raise self.option_error("pooling", "must be mean or max")

    def process(self, message: Message) -> None:
        doc = doc_of(message, self.name)
        if not message.tokens:
            message.tokens = [Token(t.text, t.idx, t.idx + len(t)) for t in doc if t.text.strip()]
        vectors = token_vectors(doc, message.tokens)
        message.sentence_features.append(signed_block(self._pool(vectors)))
        for feats, vector in zip(message.ensure_token_features(), vectors, strict=True):
            feats.update({f"vec:{i}": float(v) for i, v in enumerate(vector) if v})

    def _pool(self, vectors: np.ndarray) -> np.ndarray:
        """Rasa pools only the tokens that have a vector; none at all gives zeros."""
        known = vectors[np.any(vectors != 0, axis=1)]
        if not len(known):
            return np.zeros(vectors.shape[1], dtype=np.float32)
        return known.mean(axis=0) if self.options["pooling"] == "mean" else known.max(axis=0)


def token_vectors(doc: Any, tokens: list[Token]) -> np.ndarray:
    """One row per token: the mean vector of the spaCy tokens it overlaps."""
    width = int(doc.vocab.vectors_length)
    rows = np.zeros((len(tokens), width), dtype=np.float32)
    if not width:
        return rows
    spans = [(t.idx, t.idx + len(t), t) for t in doc if t.text.strip()]
    for row, token in enumerate(tokens):
        covering = [t.vector for start, end, t in spans if start < token.end and end > token.start]
        if covering:
            rows[row] = np.mean(covering, axis=0)
    return rows


def signed_block(vector: np.ndarray) -> sp.csr_matrix:
    """A 1 x 2d non-negative row [max(v, 0), max(-v, 0)]; at least one column wide."""
    if not vector.size:
        return sp.csr_matrix((1, 1), dtype=np.float32)
    split = np.concatenate([np.maximum(vector, 0), np.maximum(-vector, 0)])
    return sp.csr_matrix(split.reshape(1, -1).astype(np.float32))


class SpacyEntityExtractor(Component):
    """The model's named entities (``doc.ents``), restricted to ``dimensions`` when given."""

    name = "SpacyEntityExtractor"
    defaults = {"dimensions": None}

    def train(self, messages: list[Message], data: NLUTrainingData) -> None:
        """Nothing to learn: the spaCy model is already trained."""

    def process(self, message: Message) -> None:
        dimensions = self.options["dimensions"]
        for ent in doc_of(message, self.name).ents:
            if dimensions and ent.label_ not in dimensions:
                continue
            message.entities.append(
                {
                    "entity": ent.label_,
                    # The original text: SpacyNLP may have run on a lower-cased copy.
                    "value": message.text[ent.start_char : ent.end_char],
                    "start": ent.start_char,
                    "confidence": None,
                    "end": ent.end_char,
                    "extractor": self.name,
                }
            )


SPACY_COMPONENTS: dict[str, type[Component]] = {
    cls.name: cls for cls in (SpacyNLP, SpacyTokenizer, SpacyFeaturizer, SpacyEntityExtractor)
}
