"""The SVG charts: well-formed, scaled to their values, labels escaped, gaps left open."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from trackers import charts

SVG = "{http://www.w3.org/2000/svg}"


def parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def test_it_draws_one_bar_per_value_scaled_to_a_round_axis():
    root = parsed(charts.bar_chart(["a", "b", "c"], [0, 7, 3], title="Per day"))
    bars = root.findall(f"{SVG}rect")
    heights = [float(bar.get("height")) for bar in bars]
    assert heights[0] == 0 and heights[1] > heights[2] > 0
    # 7 rounds up to an axis of 10 in steps of 2; the grid labels say so.
    assert [text.text for text in root.findall(f"{SVG}text")][:6] == ["0", "2", "4", "6", "8", "10"]
    assert [bar.find(f"{SVG}title").text for bar in bars] == ["a: 0", "b: 7", "c: 3"]
    assert root.find(f"{SVG}title").text == "Per day"


def test_it_escapes_every_label_and_title():
    odd = '<script>alert("x")</script> & co'
    svg = charts.bar_chart([odd], [1], title=odd) + charts.hbar_chart([odd], [2], title=odd)
    svg += charts.line_chart([odd], [charts.Series(odd, [1.0], "#000")], title=odd)
    assert "<script>" not in svg
    for chart in svg.split("</svg>")[:-1]:
        root = parsed(chart + "</svg>")
        assert odd in "".join(root.itertext())


def test_it_leaves_a_gap_where_a_line_has_no_value():
    series = charts.Series("rate", [0.1, None, 0.3, 0.2], "#c27c0e")
    root = parsed(
        charts.line_chart(
            ["1", "2", "3", "4"], [series], title="t", whole=False, value_label=charts.percent_label
        )
    )
    path = root.find(f"{SVG}path").get("d")
    assert path.count("M") == 2 and path.count("L") == 1
    assert len(root.findall(f"{SVG}circle")) == 3
    assert "rate, 3: 30%" in [c.find(f"{SVG}title").text for c in root.findall(f"{SVG}circle")]


def test_it_shows_at_most_eight_day_labels():
    labels = [f"d{n}" for n in range(90)]
    root = parsed(charts.bar_chart(labels, [1] * 90, title="t"))
    shown = [t.text for t in root.findall(f"{SVG}text") if t.text.startswith("d")]
    assert 1 < len(shown) <= charts.MAX_X_LABELS and shown[0] == "d0"


def test_it_ranks_named_bars_longest_first_and_says_when_empty():
    root = parsed(charts.hbar_chart(["greet", "bye"], [10, 5], title="Top"))
    widths = [float(bar.get("width")) for bar in root.findall(f"{SVG}rect")]
    assert widths[0] == 2 * widths[1]
    assert "no data" in "".join(parsed(charts.hbar_chart([], [], title="Top")).itertext())
