"""Small charts drawn as SVG on the server: the dashboard needs no JavaScript, no library
and nothing from a CDN, and a chart is a string a test can parse.

Three shapes: vertical bars (a value per day or per bucket), lines (one or more series per
day, gaps where a value is missing) and horizontal bars (named values, long names readable).
Every label, title and tooltip is escaped, as intent and channel names come from users'
bots. Colours of text and grid follow ``currentColor``, so the admin's light and dark
themes both read well; the page's CSS sets it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 560
HEIGHT = 230
# Room for the y axis labels on the left and the x labels under the plot.
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 26, 24
MAX_X_LABELS = 8
BAR_COLOR = "#417690"  # the admin's own blue


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per label; None leaves a gap
    color: str


def count_label(value: float) -> str:
    return f"{value:,.0f}"


def percent_label(value: float) -> str:
    return f"{value:.0%}" if value >= 0.1 or value == 0 else f"{value:.1%}"


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    color: str = BAR_COLOR,
    value_label: Callable[[float], str] = count_label,
    whole: bool = True,
    max_labels: int = MAX_X_LABELS,
) -> str:
    """Vertical bars, one per label (a day, a bucket); each bar's tooltip gives its value."""
    top = _nice_top(max(values, default=0), whole=whole)
    plot_width = WIDTH - LEFT - RIGHT
    step = plot_width / max(len(values), 1)
    gap = min(step * 0.2, 4)
    parts = _frame(title, top, value_label) + _x_labels(labels, step, max_labels)
    for index, value in enumerate(values):
        height = _y(0, top) - _y(value, top)
        tooltip = f"{labels[index]}: {value_label(value)}"
        parts.append(
            f'<rect x="{LEFT + index * step + gap / 2:.1f}" y="{_y(value, top):.1f}"'
            f' width="{max(step - gap, 1):.1f}" height="{height:.1f}" fill="{escape(color)}">'
            f"<title>{escape(tooltip)}</title></rect>"
        )
    return _svg(title, parts)


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    value_label: Callable[[float], str] = count_label,
    whole: bool = True,
) -> str:
    """One line per series over the labels, with a legend; a missing value breaks the line."""
    present = [value for line in series for value in line.values if value is not None]
    top = _nice_top(max(present, default=0), whole=whole)
    step = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    parts = _frame(title, top, value_label) + _x_labels(labels, step, MAX_X_LABELS)
    for number, line in enumerate(series):
        points = [
            (LEFT + (index + 0.5) * step, _y(value, top), index, value)
            for index, value in enumerate(line.values)
        ]
        parts.append(_polyline(points, line.color))
        for x, y, index, value in points:
            if value is None:
                continue
            tooltip = f"{line.name}, {labels[index]}: {value_label(value)}"
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{escape(line.color)}">'
                f"<title>{escape(tooltip)}</title></circle>"
            )
        parts.append(_legend_entry(number, line))
    return _svg(title, parts)


def hbar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    color: str = BAR_COLOR,
    value_label: Callable[[float], str] = count_label,
) -> str:
    """Horizontal bars: a name on the left of each, its value at its end."""
    row, label_width = 20, 150
    height = max(len(values), 1) * row + 8
    largest = max(values, default=0) or 1
    room = WIDTH - label_width - 70  # what the longest bar may take, its value after it
    parts = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 4 + index * row
        length = room * value / largest
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 13}" text-anchor="end">'
            f"{escape(_shorten(label, 24))}<title>{escape(label)}</title></text>"
            f'<rect x="{label_width}" y="{y + 2}" width="{max(length, 1):.1f}" height="{row - 5}"'
            f' fill="{escape(color)}"><title>{escape(label)}: {value_label(value)}</title></rect>'
            f'<text x="{label_width + length + 5:.1f}" y="{y + 13}">{value_label(value)}</text>'
        )
    if not values:
        parts.append(f'<text x="{WIDTH / 2}" y="16" text-anchor="middle">no data</text>')
    return _svg(title, parts, height=height)


def _svg(title: str, parts: list[str], *, height: int = HEIGHT) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}"'
        f' role="img" font-size="11" font-family="sans-serif" fill="currentColor">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def _frame(title: str, top: float, value_label: Callable[[float], str]) -> list[str]:
    """Horizontal grid lines with their values: five steps from zero to ``top``."""
    parts = []
    for tick in range(6):
        value = top * tick / 5
        y = _y(value, top)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"'
            f' stroke="currentColor" stroke-opacity="{0.5 if tick == 0 else 0.15}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(value_label(value))}</text>"
        )
    return parts


def _x_labels(labels: Sequence[str], step: float, most: int) -> list[str]:
    """At most ``most`` labels, evenly spaced, so that dates never overlap."""
    every = max(1, math.ceil(len(labels) / most))
    y = HEIGHT - BOTTOM + 16
    return [
        f'<text x="{LEFT + (index + 0.5) * step:.1f}" y="{y}" text-anchor="middle">'
        f"{escape(label)}</text>"
        for index, label in enumerate(labels)
        if index % every == 0
    ]


def _polyline(points: list[tuple[float, float, int, float | None]], color: str) -> str:
    path, pen_down = [], False
    for x, y, _, value in points:
        if value is None:
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{x:.1f} {y:.1f}")
        pen_down = True
    if not path:
        return ""
    return f'<path d="{" ".join(path)}" fill="none" stroke="{escape(color)}" stroke-width="2"/>'


def _legend_entry(number: int, line: Series) -> str:
    x = LEFT + 8 + number * 170
    return (
        f'<rect x="{x}" y="4" width="10" height="10" fill="{escape(line.color)}"/>'
        f'<text x="{x + 14}" y="13">{escape(line.name)}</text>'
    )


def _y(value: float | None, top: float) -> float:
    plot = HEIGHT - TOP - BOTTOM
    return HEIGHT - BOTTOM - plot * (value or 0) / top


def _nice_top(largest: float, *, whole: bool) -> float:
    """The axis's top: five steps of 1, 2, 2.5 or 5 x 10^n, the smallest that reach
    ``largest``; steps of at least 1 for whole counts."""
    if largest <= 0:
        return 5 if whole else 1
    raw = max(largest / 5, 1) if whole else largest / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    factor = next(factor for factor in (1, 2, 2.5, 5, 10) if factor * magnitude >= raw)
    return factor * magnitude * 5


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
