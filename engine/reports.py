"""The figures ``rasa test`` draws, as PNG bytes: confusion matrices and the confidence histogram.

They are drawn from the evaluation reports themselves (an intent report's ``predictions``, a
story report's ``actions``), so ``manage.py evaluate`` and the admin's page of a finished
``/model/test/*`` job draw the same pictures from the same JSON, on any host. matplotlib is an
optional extra (requirements-reports.txt): it is imported only when a figure is drawn.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Callable
from typing import Any

INTENT_CONFUSION_MATRIX = "intent_confusion_matrix.png"
INTENT_HISTOGRAM = "intent_histogram.png"
STORY_CONFUSION_MATRIX = "story_confusion_matrix.png"

MISSING_MATPLOTLIB = (
    "matplotlib is not installed, so no figure was drawn; install the optional extra with "
    "`.venv/bin/pip install -r requirements-reports.txt`"
)


class FiguresUnavailable(RuntimeError):
    """matplotlib is missing: the JSON reports stand, the pictures cannot be drawn."""


def figures_available() -> bool:
    """Whether matplotlib can be imported here, asked before offering figures on a page."""
    return importlib.util.find_spec("matplotlib") is not None


def report_figure_names(result: dict[str, Any]) -> list[str]:
    """The figures a report can be drawn as (none for a cross-validation: it keeps no
    predictions, only the folds' mean scores)."""
    if "actions" in result:
        return [STORY_CONFUSION_MATRIX] if result["actions"] else []
    if result.get("intent_evaluation", {}).get("predictions"):
        return [INTENT_CONFUSION_MATRIX, INTENT_HISTOGRAM]
    return []


def report_figure(result: dict[str, Any], name: str) -> bytes:
    """One figure of ``report_figure_names(result)`` as PNG; ``KeyError`` for another name."""
    if name not in report_figure_names(result):
        raise KeyError(name)
    return _DRAWERS[name](result)


def report_figures(result: dict[str, Any]) -> dict[str, bytes]:
    """Every figure of a report, by Rasa's file name."""
    return {name: report_figure(result, name) for name in report_figure_names(result)}


def _figure(width: float, height: float) -> Any:
    """A figure of its own, not pyplot's: no global state, so web threads can draw at once."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise FiguresUnavailable(MISSING_MATPLOTLIB) from None
    # A bare Figure renders with Agg when saved: no display, no GUI toolkit on a server.
    return Figure(figsize=(width, height))


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def confusion_matrix_png(gold: list[str], predicted: list[str], *, title: str) -> bytes:
    """Counts with the true label down and the predicted one across, as Rasa plots them."""
    labels = sorted(set(gold) | set(predicted))
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for true, guess in zip(gold, predicted, strict=True):
        counts[index[true]][index[guess]] += 1
    # Grows with the labels, up to 30 inches (3000 px): past ~60 labels the type shrinks
    # instead, so a 150-intent bot still makes a picture a browser shows.
    side = min(30.0, max(4.0, 0.45 * len(labels) + 2.5))
    size = min(10.0, max(3.0, 600 / max(len(labels), 1)))
    figure = _figure(side + 1.5, side)
    axes = figure.subplots()
    image = axes.imshow(counts, cmap="Blues", interpolation="nearest")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)  # a slim bar, whatever the size
    axes.set_xticks(range(len(labels)), labels, rotation=90, fontsize=size)
    axes.set_yticks(range(len(labels)), labels, fontsize=size)
    biggest = max((max(row) for row in counts), default=0)
    for row, values in enumerate(counts):
        for column, value in enumerate(values):
            if value:  # dark cells get white numbers so they stay readable
                colour = "white" if value > biggest / 2 else "black"
                axes.text(column, row, value, ha="center", va="center", color=colour, size=size)
    axes.set(title=title, xlabel="Predicted label", ylabel="True label")
    return _png(figure)


def confidence_histogram_png(
    correct: list[float], wrong: list[float], *, title: str, bins: int = 10
) -> bytes:
    """How confident the right and the wrong predictions were, side by side per bin."""
    edges = [i / bins for i in range(bins + 1)]
    figure = _figure(8, 5)
    axes = figure.subplots()
    axes.hist(
        [correct, wrong],
        bins=edges,
        color=["#009292", "#ff6db6"],
        label=[f"Correct predictions ({len(correct)})", f"Wrong predictions ({len(wrong)})"],
    )
    axes.set(title=title, xlabel="Confidence", ylabel="Number of samples", xlim=(0, 1))
    axes.yaxis.get_major_locator().set_params(integer=True)  # samples are counted whole
    axes.legend()
    return _png(figure)


def _intent_matrix(result: dict[str, Any]) -> bytes:
    rows = result["intent_evaluation"]["predictions"]
    return confusion_matrix_png(
        [r["intent"] for r in rows], [r["predicted"] for r in rows], title="Intent Confusion matrix"
    )


def _intent_histogram(result: dict[str, Any]) -> bytes:
    rows = result["intent_evaluation"]["predictions"]
    correct = [r["confidence"] or 0.0 for r in rows if r["intent"] == r["predicted"]]
    wrong = [r["confidence"] or 0.0 for r in rows if r["intent"] != r["predicted"]]
    return confidence_histogram_png(
        correct, wrong, title="Intent Prediction Confidence Distribution"
    )


def _story_matrix(result: dict[str, Any]) -> bytes:
    actions = result["actions"]
    return confusion_matrix_png(
        [str(a["action"]) for a in actions],
        [str(a["predicted"]) for a in actions],
        title="Action Confusion matrix",
    )


_DRAWERS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    INTENT_CONFUSION_MATRIX: _intent_matrix,
    INTENT_HISTOGRAM: _intent_histogram,
    STORY_CONFUSION_MATRIX: _story_matrix,
}
