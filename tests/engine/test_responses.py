"""Rendering domain responses: variations, channels, conditions, interpolation, rich data."""

from __future__ import annotations

import random

from engine.domain import Domain
from engine.responses import ResponseRenderer, interpolate

DOMAIN = Domain.from_yaml(
    """
slots:
  name: {type: text, mappings: [{type: from_text}]}
  vip: {type: bool, mappings: [{type: custom}]}
responses:
  utter_many:
  - text: one
  - text: two
  - text: three
  utter_channel:
  - text: plain
  - text: slack only
    channel: slack
  utter_cond:
  - text: welcome back, VIP
    condition: [{type: slot, name: vip, value: true}]
  - text: hello
  utter_name:
  - text: "Hi {name}, {unknown}"
  - text: "ignored"
    condition: [{type: slot, name: vip, value: 7}]
  utter_rich:
  - text: "Pick {name}"
    image: "https://x/{name}.png"
    buttons: [{title: "{name}", payload: "/greet"}]
    custom: {who: "{name}", n: 1}
    attachment: "file"
"""
)


def test_it_picks_variations_with_a_seedable_rng():
    first = [ResponseRenderer(DOMAIN, random.Random(3)).render("utter_many", {}) for _ in range(5)]
    second = [ResponseRenderer(DOMAIN, random.Random(3)).render("utter_many", {}) for _ in range(5)]
    assert [e.text for e in first] == [e.text for e in second]
    seen = {
        ResponseRenderer(DOMAIN, random.Random(i)).render("utter_many", {}).text for i in range(30)
    }
    assert seen == {"one", "two", "three"}


def test_it_prefers_the_variation_for_the_output_channel():
    renderer = ResponseRenderer(DOMAIN)
    assert renderer.render("utter_channel", {}, "slack").text == "slack only"
    assert renderer.render("utter_channel", {}, "collector").text == "plain"


def test_it_prefers_a_matching_conditional_variation():
    renderer = ResponseRenderer(DOMAIN)
    assert renderer.render("utter_cond", {"vip": True}).text == "welcome back, VIP"
    assert renderer.render("utter_cond", {"vip": False}).text == "hello"


def test_it_leaves_a_text_with_an_unknown_placeholder_alone():
    assert interpolate("Hi {name}", {"name": "Ann"}) == "Hi Ann"
    assert interpolate("Hi {name}, {unknown}", {"name": "Ann"}) == "Hi {name}, {unknown}"
    assert interpolate("Hi {name}", {"name": None}) == "Hi None"


def test_it_fills_slots_into_rich_parts_and_keeps_the_utter_action():
    event = ResponseRenderer(DOMAIN).render("utter_rich", {"name": "Ann"})
    assert event.text == "Pick Ann"
    assert event.data["image"] == "https://x/Ann.png"
    assert event.data["buttons"] == [{"title": "Ann", "payload": "/greet"}]
    assert event.data["custom"] == {"who": "Ann", "n": 1}
    assert event.data["attachment"] == "file"
    assert event.data["elements"] is None
    assert event.metadata == {"utter_action": "utter_rich"}


def test_it_renders_nothing_for_an_unknown_response():
    assert ResponseRenderer(DOMAIN).render("utter_nope", {}) is None


def test_it_passes_extra_values_to_the_template():
    event = ResponseRenderer(DOMAIN).render("utter_name", {"name": "A"}, unknown="B")
    assert event.text == "Hi A, B"
