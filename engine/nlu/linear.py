"""A linear intent classifier over the stacked sparse features, stored as plain arrays.

Training uses liblinear's one-vs-rest linear SVM: on CLINC150 it is as accurate as multinomial
logistic regression and about five times faster. Its decision scores become probabilities by a
softmax whose temperature and per-class offsets are fitted by maximum likelihood on scores of
examples the SVM did not see (a stratified fifth held out, fitted on a second thread while the
full model trains, or before it, once per n-gram weighting tried), so the FallbackClassifier's
thresholds act on calibrated confidences. The offsets matter for a diffuse class such as
CLINC150's ``out_of_scope``: one-vs-rest scores it low, and its offset gives it back its share.
Small data sets, too small to hold anything out, keep a fixed temperature. Prediction is done
here from the coefficient arrays, both after training and after loading, so a loaded model
answers exactly like the one that was saved.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.svm import LinearSVC

from engine.nlu.message import Message
from engine.nlu.storage import Store

# Calibration needs this many examples of every intent (a fifth of them are held out) ...
CALIBRATION_MIN_PER_CLASS = 10
# ... and keeps the temperature inside these bounds (a degenerate fit cannot flatten or spike).
TEMPERATURE_BOUNDS = (0.02, 1.0)


def sequence_bigrams(message: Message) -> list[str]:
    """Adjacent lower-cased token pairs: a cheap stand-in for DIET's view of word order."""
    words = [t.text.lower() for t in message.tokens]
    return [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


class LinearModel:
    """Softmax over SVM scores of (log-scaled, per-block L2-normalised) features.

    Each featurizer's block is normalised on its own so that the many char n-grams do not drown
    the few words: that is worth about half a point of accuracy on CLINC150. Whether n-grams
    are weighted by idf is chosen on the held-out fifth (``use_idf`` None) when there is one:
    on CLINC150 flat weights win (in 5-fold cross-validation on its training data idf cost 0.1
    point of accuracy and 3 of its 100 out-of-scope examples caught), while the small bots'
    cross-validation prefers idf, which data too small to hold anything out keeps. ``idf`` is
    stored either way (ones when flat).
    """

    def __init__(
        self,
        *,
        C: float = 2.0,
        max_iter: int = 1000,
        bigrams: bool = True,
        temperature: float | None = None,
        use_idf: bool | None = None,
    ) -> None:
        self.C = C
        self.use_idf = use_idf
        self.max_iter = max_iter
        self.bigrams = bigrams
        self.fixed_temperature = temperature
        self.temperature = 0.2 if temperature is None else temperature
        self.offsets: np.ndarray | None = None
        self.classes: np.ndarray = np.array([], dtype=str)
        self.coef: np.ndarray | None = None
        self.intercept: np.ndarray | None = None
        self.idf: np.ndarray | None = None
        self.bigram_vocab: dict[str, int] = {}
        self._coef_t: np.ndarray | None = None

    def _blocks(self, messages: list[Message], grow: bool) -> list[sp.csr_matrix]:
        """One matrix per featurizer (stacked per block: far cheaper than per-message hstack)."""
        count = len(messages[0].sentence_features) if messages else 0
        blocks = [
            sp.vstack([m.sentence_features[i] for m in messages], format="csr")
            for i in range(count)
        ]
        if self.bigrams:
            blocks.append(self._bigram_matrix(messages, grow))
        # No features at all: one empty column keeps the shapes valid (the intercept decides).
        return blocks or [sp.csr_matrix((len(messages), 1))]

    def _bigram_matrix(self, messages: list[Message], grow: bool) -> sp.csr_matrix:
        indices, indptr = [], [0]
        for message in messages:
            for gram in sequence_bigrams(message):
                if grow and gram not in self.bigram_vocab:
                    self.bigram_vocab[gram] = len(self.bigram_vocab)
                if gram in self.bigram_vocab:
                    indices.append(self.bigram_vocab[gram])
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float64)
        shape = (len(messages), max(len(self.bigram_vocab), 1))
        matrix = sp.csr_matrix((data, indices, indptr), shape=shape)
        matrix.sum_duplicates()  # a repeated bigram is one feature with its count
        return matrix

    def _scale(self, blocks: list[sp.csr_matrix], idf: np.ndarray | None = None) -> sp.csr_matrix:
        """Log-scaled, weighted by ``idf`` (the model's by default), each block L2-normalised."""
        idf = self.idf if idf is None else idf
        assert idf is not None
        scaled, offset = [], 0
        for block in blocks:
            block = block.astype(np.float64)
            block.data = np.log1p(np.abs(block.data))
            block = block @ sp.diags(idf[offset : offset + block.shape[1]])
            offset += block.shape[1]
            norms = np.sqrt(np.asarray(block.multiply(block).sum(axis=1))).ravel()
            norms[norms == 0] = 1.0
            scaled.append(sp.diags(1.0 / norms) @ block)
        return sp.hstack(scaled, format="csr")

    def _row_scores(self, message: Message) -> np.ndarray:
        """``_scale`` then the product with the coefficients, for one message.

        The same arithmetic as the matrix path, on index and value arrays: scipy's sparse
        machinery costs milliseconds per call and dominated a parse's latency.
        """
        assert self.idf is not None and self._coef_t is not None
        rows = [(feature.indices, feature.data) for feature in message.sentence_features]
        if self.bigrams:
            known = [self.bigram_vocab.get(gram) for gram in sequence_bigrams(message)]
            grams = np.array([g for g in known if g is not None], dtype=np.int64)
            rows.append(np.unique(grams, return_counts=True))
        scores = np.zeros(self._coef_t.shape[1])
        offset = 0
        widths = [feature.shape[1] for feature in message.sentence_features]
        if self.bigrams:
            widths.append(max(len(self.bigram_vocab), 1))
        for (indices, data), width in zip(rows, widths, strict=True):
            columns = np.asarray(indices, dtype=np.int64) + offset
            offset += width
            if not len(columns):
                continue
            values = np.log1p(np.abs(np.asarray(data, dtype=np.float64))) * self.idf[columns]
            norm = np.sqrt(values @ values)
            if norm:
                scores += (values / norm) @ self._coef_t[columns]
        return scores

    def fit(self, messages: list[Message], labels: list[str], seed: int) -> None:
        blocks = self._blocks(messages, grow=True)
        raw = sp.hstack(blocks, format="csr")
        self.classes = np.array(sorted(set(labels)))
        self.offsets = np.zeros(len(self.classes), dtype=np.float32)
        weightings = self._weightings(raw)
        self.idf = weightings[0]
        if len(self.classes) == 1:  # nothing to separate: always that label
            self.coef = np.zeros((1, raw.shape[1]), dtype=np.float32)
            self.intercept = np.zeros(1, dtype=np.float32)
            return
        targets = np.searchsorted(self.classes, np.array(labels))
        if len(weightings) > 1 and _can_hold_out(targets):
            self.idf, scores = self._select_weighting(blocks, targets, weightings, seed)
            self.coef, self.intercept = self._svm_on_two_threads(self._scale(blocks), targets, seed)
        else:
            features = self._scale(blocks)
            with ThreadPoolExecutor(max_workers=2) as pool:  # liblinear releases the GIL
                held_out = pool.submit(self._held_out_scores, features, targets, seed)
                self.coef, self.intercept = self._svm(features, targets, seed)
                scores = held_out.result()
        if scores is not None:
            self.temperature, offsets = fit_calibration(*scores, self.fixed_temperature)
            self.offsets = offsets.astype(np.float32)

    def _weightings(self, raw: sp.csr_matrix) -> list[np.ndarray]:
        """Column weights to try, the default first: idf, flat, or (``use_idf`` None) both."""
        document_freq = np.asarray((raw != 0).sum(axis=0)).ravel()
        idf = np.log((1.0 + raw.shape[0]) / (1.0 + document_freq)) + 1.0
        flat = np.ones(raw.shape[1])
        if self.use_idf is None:
            return [idf, flat]
        return [idf] if self.use_idf else [flat]

    def _select_weighting(
        self, blocks: list[sp.csr_matrix], targets: np.ndarray, weightings: list, seed: int
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """The weighting whose model scores the held-out fifth best (the first on a tie),
        with those held-out scores for the calibration. Fitted side by side on two threads."""
        with ThreadPoolExecutor(max_workers=2) as pool:  # liblinear releases the GIL
            runs = [
                pool.submit(self._held_out_scores, self._scale(blocks, idf), targets, seed)
                for idf in weightings
            ]
            results = [run.result() for run in runs]
        accuracies = [float(np.mean(s.argmax(axis=1) == t)) for s, t in results]
        best = accuracies.index(max(accuracies))
        return weightings[best], results[best]

    def _svm(self, features: sp.csr_matrix, targets: np.ndarray, seed: int) -> tuple:
        """Coefficients and intercepts, one row per class (also for two classes)."""
        coef, intercept = self._liblinear(features, targets, seed)
        if coef.shape[0] == 1:  # binary: one row scores the second class against the first
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        return coef.astype(np.float32), intercept.astype(np.float32)

    def _svm_on_two_threads(self, features: sp.csr_matrix, targets: np.ndarray, seed: int) -> tuple:
        """``_svm`` with the classes split between two threads (liblinear releases the GIL).

        One-vs-rest solves one binary problem per class, each against all the other rows, so a
        half of the classes can be fitted with the other half's labels merged into one "rest"
        label: the binary problems, and so the coefficients, are the same; the wall-clock time
        of a large model about halves.
        """
        count = len(self.classes)
        if count < 4:
            return self._svm(features, targets, seed)
        halves = [np.arange(count) < count // 2, np.arange(count) >= count // 2]
        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = [
                pool.submit(self._liblinear, features, np.where(half[targets], targets, -1), seed)
                for half in halves
            ]
            parts = [run.result() for run in runs]
        # Each fit's rows are its labels in sorted order: "rest" (-1) first, then the half's.
        coef = np.vstack([part[0][1:] for part in parts])
        intercept = np.concatenate([part[1][1:] for part in parts])
        return coef.astype(np.float32), intercept.astype(np.float32)

    def _liblinear(self, features: sp.csr_matrix, targets: np.ndarray, seed: int) -> tuple:
        model = LinearSVC(C=self.C, max_iter=self.max_iter, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(features, targets)
        return model.coef_, model.intercept_

    def _held_out_scores(
        self, features: sp.csr_matrix, targets: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """SVM scores of a stratified fifth, from a model trained on the rest (None if too few)."""
        if not _can_hold_out(targets):
            return None
        split = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
        fit_rows, held_rows = next(split.split(np.zeros(len(targets)), targets))
        coef, intercept = self._svm(features[fit_rows], targets[fit_rows], seed)
        scores = np.asarray(features[held_rows] @ coef.T.astype(np.float64)) + intercept
        return scores, targets[held_rows]

    def predict(self, messages: list[Message]) -> np.ndarray:
        """Probabilities, one row per message, columns in ``self.classes`` order."""
        assert self.coef is not None and self.intercept is not None
        if self._coef_t is None:  # converted once: per-parse conversion dominated latency
            self._coef_t = np.ascontiguousarray(self.coef.T, dtype=np.float64)
        if len(messages) == 1:  # a parse: plain numpy on the few non-zeros, no sparse matrices
            raw = self._row_scores(messages[0])[None, :]
        else:
            raw = np.asarray(self._scale(self._blocks(messages, grow=False)) @ self._coef_t)
        scores = (raw + self.intercept) / self.temperature
        if self.offsets is not None:
            scores += self.offsets
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        return probs / probs.sum(axis=1, keepdims=True)

    def save(self, store: Store, name: str) -> dict[str, Any]:
        assert self.coef is not None and self.intercept is not None and self.idf is not None
        offsets = self.offsets if self.offsets is not None else np.zeros(len(self.classes))
        store.save_arrays(
            name, coef=self.coef, intercept=self.intercept, idf=self.idf, offsets=offsets
        )
        return {
            "classes": self.classes.tolist(),
            "bigrams": self.bigram_vocab if self.bigrams else None,
            "temperature": self.temperature,
        }

    def load(self, store: Store, name: str, state: dict[str, Any]) -> None:
        arrays = store.load_arrays(name)
        self.coef, self.intercept, self.idf = arrays["coef"], arrays["intercept"], arrays["idf"]
        self.offsets = arrays.get("offsets")  # absent in models saved before calibration
        self.classes = np.array(state["classes"])
        self.bigrams = state["bigrams"] is not None
        self.bigram_vocab = state["bigrams"] or {}
        self.temperature = float(state["temperature"])


def _can_hold_out(targets: np.ndarray) -> bool:
    return bool(np.bincount(targets).min() >= CALIBRATION_MIN_PER_CLASS)


def fit_calibration(
    scores: np.ndarray, targets: np.ndarray, temperature: float | None = None
) -> tuple[float, np.ndarray]:
    """Temperature and per-class offsets maximising the likelihood of held-out labels.

    A given ``temperature`` is kept and only the offsets are fitted. The offsets carry a small
    L2 penalty: with a score of 20 held-out examples per class they would otherwise chase noise.
    """
    rows = np.arange(len(targets))
    fixed = temperature is not None

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        inverse = 1.0 / temperature if fixed else params[0]
        offsets = params[1:]
        logits = scores * inverse + offsets
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        value = -np.log(probs[rows, targets] + 1e-300).mean() + 1e-3 * offsets @ offsets
        grad = probs
        grad[rows, targets] -= 1.0
        grad /= len(targets)
        d_inverse = 0.0 if fixed else float((grad * scores).sum())
        return value, np.concatenate([[d_inverse], grad.sum(axis=0) + 2e-3 * offsets])

    low, high = TEMPERATURE_BOUNDS
    start = np.concatenate([[1.0 / (temperature or 0.2)], np.zeros(scores.shape[1])])
    bounds = [(1.0 / high, 1.0 / low)] + [(None, None)] * scores.shape[1]
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    fitted = temperature if fixed else float(1.0 / result.x[0])
    return fitted, result.x[1:]


def ranking(classes: np.ndarray, probs: np.ndarray, limit: int = 10) -> list[dict[str, Any]]:
    """Top ``limit`` labels, best first; ties broken by name so output is deterministic."""
    order = sorted(range(len(classes)), key=lambda i: (-probs[i], str(classes[i])))
    return [{"name": str(classes[i]), "confidence": float(probs[i])} for i in order[:limit]]
