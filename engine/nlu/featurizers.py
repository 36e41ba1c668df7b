"""Sparse featurizers: count vectors (word / char_wb n-grams), regex and lexical-syntactic."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from engine.nlu.component import Component
from engine.nlu.message import Message
from engine.nlu.storage import Store
from engine.training_data.nlu import NLUTrainingData


class CountVectorsFeaturizer(Component):
    """Bag of words or of character n-grams inside word boundaries, over the tokens."""

    name = "CountVectorsFeaturizer"
    defaults = {
        "analyzer": "word",
        "min_ngram": 1,
        "max_ngram": 1,
        "min_df": 1,
        "max_df": 1.0,
        "max_features": None,
        "lowercase": True,
        "stop_words": None,
        "token_pattern": r"(?u)\b\w\w+\b",
        "OOV_token": None,
        "OOV_words": [],
        "use_lemma": True,
    }

    def __init__(self, options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        if self.options["analyzer"] not in ("word", "char", "char_wb"):
            raise self.option_error("analyzer", "must be word, char or char_wb")
        self.vectorizer: CountVectorizer | None = None

    def _make_vectorizer(self, vocabulary: dict[str, int] | None = None) -> CountVectorizer:
        opts = self.options
        return CountVectorizer(
            analyzer=opts["analyzer"],
            ngram_range=(int(opts["min_ngram"]), int(opts["max_ngram"])),
            min_df=opts["min_df"],
            max_df=opts["max_df"],
            max_features=opts["max_features"],
            lowercase=bool(opts["lowercase"]),
            stop_words=opts["stop_words"],
            token_pattern=opts["token_pattern"],
            vocabulary=vocabulary,
            dtype=np.float32,
        )

    def _texts(self, messages: list[Message], training: bool) -> list[str]:
        texts = []
        oov = self.options["OOV_token"]
        oov_words = {w.lower() for w in self.options["OOV_words"]}
        for message in messages:
            words = [t.text for t in message.tokens] if message.tokens else message.text.split()
            if oov and training:
                words = [oov if w.lower() in oov_words else w for w in words]
            elif oov and self.vectorizer is not None and self.options["analyzer"] == "word":
                vocab = self.vectorizer.vocabulary_
                words = [w if w.lower() in vocab else oov for w in words]
            texts.append(" ".join(words))
        return texts

    def train(self, messages: list[Message], data: NLUTrainingData) -> None:
        self.vectorizer = self._make_vectorizer()
        texts = self._texts(messages, training=True)
        try:
            matrix = self.vectorizer.fit_transform(texts).tocsr()
        except ValueError:  # empty vocabulary: nothing to learn from, keep a dummy column
            self.vectorizer = self._make_vectorizer({"__empty__": 0})
            matrix = self.vectorizer.transform(texts).tocsr()
        for row, message in enumerate(messages):
            message.sentence_features.append(matrix[row])

    def process(self, message: Message) -> None:
        if self.vectorizer is not None:
            row = self.vectorizer.transform(self._texts([message], training=False)).tocsr()
            message.sentence_features.append(row)

    def persist(self, store: Store) -> dict[str, Any]:
        assert self.vectorizer is not None
        vocab = {term: int(index) for term, index in self.vectorizer.vocabulary_.items()}
        return {"vocabulary": vocab}

    def restore(self, state: dict[str, Any], store: Store) -> None:
        self.vectorizer = self._make_vectorizer(state["vocabulary"])


class RegexFeaturizer(Component):
    """One feature per regex / lookup table: does it match the sentence, and which tokens."""

    name = "RegexFeaturizer"
    defaults = {
        "case_sensitive": True,
        "use_word_boundaries": True,
        "number_additional_patterns": None,
    }

    def __init__(self, options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        self.patterns: list[dict[str, str]] = []

    def train(self, messages: list[Message], data: NLUTrainingData) -> None:
        self.patterns = list(data.regexes) + [
            {"name": t["name"], "pattern": _lookup_pattern(t["elements"], self._boundaries())}
            for t in data.lookups
        ]
        super().train(messages, data)

    def _boundaries(self) -> bool:
        return bool(self.options["use_word_boundaries"])

    def process(self, message: Message) -> None:
        flags = 0 if self.options["case_sensitive"] else re.IGNORECASE
        row = np.zeros((1, max(len(self.patterns), 1)), dtype=np.float32)
        token_features = message.ensure_token_features()
        for index, pattern in enumerate(self.patterns):
            for match in re.finditer(pattern["pattern"], message.text, flags):
                row[0, index] = 1.0
                for token, feats in zip(message.tokens, token_features, strict=True):
                    if token.start < match.end() and token.end > match.start():
                        feats[f"pattern:{pattern['name']}"] = 1.0
        message.sentence_features.append(sp.csr_matrix(row))

    def persist(self, store: Store) -> dict[str, Any]:
        return {"patterns": self.patterns}

    def restore(self, state: dict[str, Any], store: Store) -> None:
        self.patterns = state["patterns"]


def _lookup_pattern(elements: list[str], word_boundaries: bool) -> str:
    alternatives = "|".join(re.escape(e) for e in sorted(elements, key=len, reverse=True))
    return rf"\b(?:{alternatives})\b" if word_boundaries else f"(?:{alternatives})"


_LEXICAL_DEFAULT = [
    ["low", "title", "upper"],
    ["BOS", "EOS", "low", "upper", "title", "digit"],
    ["low", "title", "upper"],
]


class LexicalSyntacticFeaturizer(Component):
    """Per-token shape features in a sliding window (before, at, after), for entity CRFs."""

    name = "LexicalSyntacticFeaturizer"
    defaults = {"features": _LEXICAL_DEFAULT}

    _extractors: dict[str, Any] = {
        "low": lambda t, i, n: t.islower(),
        "title": lambda t, i, n: t.istitle(),
        "upper": lambda t, i, n: t.isupper(),
        "digit": lambda t, i, n: t.isdigit(),
        "BOS": lambda t, i, n: i == 0,
        "EOS": lambda t, i, n: i == n - 1,
        "prefix5": lambda t, i, n: t[:5],
        "prefix2": lambda t, i, n: t[:2],
        "suffix5": lambda t, i, n: t[-5:],
        "suffix3": lambda t, i, n: t[-3:],
        "suffix2": lambda t, i, n: t[-2:],
        "suffix1": lambda t, i, n: t[-1:],
        "pos": lambda t, i, n: None,  # needs spaCy; absent here
        "pos2": lambda t, i, n: None,
    }

    def __init__(self, options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        for window in self.options["features"]:
            for feature in window:
                if feature not in self._extractors:
                    raise self.option_error("features", f"names an unknown feature '{feature}'")

    def process(self, message: Message) -> None:
        words = [t.text for t in message.tokens]
        token_features = message.ensure_token_features()
        windows = self.options["features"]
        half = len(windows) // 2
        for i, feats in enumerate(token_features):
            for offset, names in enumerate(windows):
                j = i + offset - half
                if not 0 <= j < len(words):
                    continue
                for feature in names:
                    value = self._extractors[feature](words[j], j, len(words))
                    if value is not None and value is not False:
                        key = f"{offset - half}:{feature}"
                        feats[key if value is True else f"{key}:{value}"] = 1.0
