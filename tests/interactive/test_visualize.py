"""The ``--visualize`` page: the conversation as a graph, served on a loopback port."""

from __future__ import annotations

import requests

from interactive.events import action_event, user_event
from interactive.visualize import GraphServer, graph_nodes

EVENTS = [
    action_event("action_listen"),
    user_event("hi", {"intent": {"name": "greet"}, "entities": []}),
    action_event("utter_greet"),
    action_event("action_listen"),
]


def test_it_draws_intents_and_actions_in_order():
    assert graph_nodes(EVENTS) == [
        ("start", "START"),
        ("intent", "greet"),
        ("action", "utter_greet"),
    ]


def test_it_serves_the_page_and_follows_each_step():
    server = GraphServer(0)
    try:
        assert server.url.startswith("http://127.0.0.1:")
        page = requests.get(server.url, timeout=5)
        assert page.status_code == 200 and "graph.svg" in page.text
        assert "utter_greet" not in requests.get(server.url + "graph.svg", timeout=5).text
        server.update(EVENTS)
        svg = requests.get(server.url + "graph.svg", timeout=5)
        assert svg.headers["Content-Type"] == "image/svg+xml"
        assert ">greet<" in svg.text and ">utter_greet<" in svg.text
        assert requests.get(server.url + "nope", timeout=5).status_code == 404
    finally:
        server.close()
