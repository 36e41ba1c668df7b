"""Small Rasa bot folders written into a test's tmp_path (the authoring tools read folders)."""

from __future__ import annotations

import textwrap
from pathlib import Path

DOMAIN = """
intents: [greet, affirm, deny]
responses:
  utter_greet: [{text: "Hi!"}]
  utter_happy: [{text: "Great"}]
  utter_sad: [{text: "Sorry"}]
"""
NLU = """
nlu:
- intent: greet
  examples: |
    - hello
    - hi
- intent: affirm
  examples: |
    - yes
- intent: deny
  examples: |
    - no
"""
STORIES = """
stories:
- story: happy
  steps:
  - intent: greet
  - action: utter_greet
  - intent: affirm
  - action: utter_happy
- story: sad
  steps:
  - intent: greet
  - action: utter_greet
  - intent: deny
  - action: utter_sad
"""


def write_bot(
    root: Path,
    *,
    domain: str = DOMAIN,
    nlu: str = NLU,
    stories: str = STORIES,
    rules: str = "",
) -> Path:
    """A bot folder: domain.yml and data/{nlu,stories,rules}.yml from YAML snippets."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "domain.yml").write_text(textwrap.dedent(domain), "utf-8")
    for name, text in (("nlu", nlu), ("stories", stories), ("rules", rules)):
        if text:
            (root / "data" / f"{name}.yml").write_text(textwrap.dedent(text), "utf-8")
    return root
