"""``engine.story_graph``: the story graph of ``rasa visualize`` and its SVG drawing."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from engine.story_graph import END, START, build_story_graph, story_graph_html, story_graph_svg
from engine.training_data.stories import story_data_from_yaml
from tests.engine.bot_folders import STORIES as BOT_STORIES

SVG = "{http://www.w3.org/2000/svg}"
# bot_folders' two stories, and a rule.
STORIES = story_data_from_yaml(
    BOT_STORIES
    + """
rules:
- rule: bye
  steps:
  - intent: goodbye
  - action: utter_goodbye
"""
)


def labels(graph) -> list[str]:
    return [node.label for node in graph.nodes]


def test_it_merges_identical_prefixes_into_one_path():
    graph = build_story_graph(STORIES)
    assert labels(graph).count("greet") == 1
    assert labels(graph).count("utter_greet") == 1
    assert {"affirm", "deny", "utter_happy", "utter_sad"} <= set(labels(graph))


def test_it_joins_every_story_and_rule_from_start_to_end():
    graph = build_story_graph(STORIES)
    index = {node.label: i for i, node in enumerate(graph.nodes)}
    edges = set(graph.edges)
    assert {(START, index["greet"]), (START, index["goodbye"])} <= edges
    assert {(index[name], END) for name in ("utter_happy", "utter_sad", "utter_goodbye")} <= edges
    assert (index["utter_greet"], index["affirm"]) in edges


def test_it_leaves_out_slots_loops_and_listening():
    graph = build_story_graph(
        story_data_from_yaml(
            "stories:\n- story: s\n  steps:\n  - intent: greet\n  - slot_was_set: [{a: 1}]\n"
            "  - action: action_listen\n  - active_loop: null\n  - action: utter_greet\n"
        )
    )
    assert labels(graph) == ["START", "END", "greet", "utter_greet"]


def test_it_draws_well_formed_svg_with_a_node_per_step():
    root = ET.fromstring(story_graph_svg(build_story_graph(STORIES)))
    assert root.tag == f"{SVG}svg"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert sorted(texts) == sorted(labels(build_story_graph(STORIES)))
    assert len(list(root.iter(f"{SVG}path"))) > len(texts)  # edges plus the arrow marker


def test_it_escapes_labels_and_embeds_the_svg_in_a_standalone_page():
    stories = story_data_from_yaml(
        'stories:\n- story: s\n  steps:\n  - user: "a <b> & c"\n  - bot: "x"\n'
    )
    svg = story_graph_svg(build_story_graph(stories))
    ET.fromstring(svg)
    page = story_graph_html(build_story_graph(stories), title="t & t")
    assert svg in page
    assert "<script" not in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")
