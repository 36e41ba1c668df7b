"""The scripted conversations of the differential harness (``bench/differential.py``).

Each conversation is a list of user messages and nothing else: what the bot should answer
is whatever Rasa answers. They come from a bot's stories, rules and test stories (each
user step sent as Rasa's ``/intent{"entity": "value"}`` shortcut, so that NLU cannot make
the two servers differ, and test stories' texts sent as they are, so that it can), from
its NLU examples, and from generated variations: interruptions, chitchat and unknown words
inside stories and forms, deny and affirm after an interruption, slot-filling intents
outside the form, restarts, sessions expiring mid-conversation (``EXPIRE``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

UNKNOWN = "blorf quizzaly wug"
# Not a message: the harness moves the conversation two hours into the past here, so the
# next message finds its session expired (every bot's session_expiration_time is 60 min).
EXPIRE = "::expire"
# [text](entity), [text]{"entity": ...}, [text]{...}(...) annotations of Rasa's training data
ANNOTATION = re.compile(r"\[([^\]]*)\](?:\{[^}]*\}|\([^)]*\))")


def conversation(cid: str, source: str, messages: list[str]) -> dict[str, Any]:
    return {"id": cid, "source": source, "messages": messages}


def shortcut(intent: str, entities: dict[str, Any] | None = None) -> str:
    """Rasa's intent shortcut: the message parsed to exactly this intent and entities."""
    return f"/{intent}{json.dumps(entities)}" if entities else f"/{intent}"


def step_entities(step: dict) -> dict[str, Any]:
    entities: dict[str, Any] = {}
    for entity in step.get("entities") or []:
        if isinstance(entity, dict):
            entities.update({k: v for k, v in entity.items() if k not in ("role", "group")})
    return entities


def annotated_entities(text: str) -> dict[str, Any]:
    return {m.group(0).split("(")[-1].rstrip(")"): m.group(1) for m in ANNOTATION.finditer(text)}


def user_steps(steps: list[dict]) -> list[dict]:
    """The user steps of a story or rule; of an ``or`` step, its first option."""
    found = []
    for step in steps:
        if "or" in step:
            step = step["or"][0]
        if "intent" in step or "user" in step:
            found.append(step)
    return found


def read_stories(path: Path) -> list[tuple[str, list[dict]]]:
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text()) or {}
    found = []
    for key, kind in (("stories", "story"), ("rules", "rule")):
        for story in data.get(key) or []:
            steps = user_steps(story.get("steps") or [])
            if steps:
                found.append((f"{kind}: {story.get(kind)}", steps))
    return found


def as_shortcuts(steps: list[dict]) -> list[str]:
    messages = []
    for step in steps:
        entities = step_entities(step)
        if "user" in step:
            entities.update(annotated_entities(step["user"]))
        messages.append(shortcut(step["intent"], entities))
    return messages


def as_texts(steps: list[dict]) -> list[str]:
    return [ANNOTATION.sub(r"\1", step["user"]).strip() for step in steps]


def nlu_examples(bot: Path, per_intent: int) -> dict[str, list[str]]:
    data = yaml.safe_load((bot / "data" / "nlu.yml").read_text()) or {}
    examples = {}
    for item in data.get("nlu") or []:
        if "intent" in item:
            lines = [line[2:] for line in item["examples"].splitlines() if line.startswith("- ")]
            examples[item["intent"]] = [ANNOTATION.sub(r"\1", line) for line in lines[:per_intent]]
    return examples


def from_bot_data(bot: Path) -> list[dict[str, Any]]:
    """Every story, rule and test story, as shortcuts; test stories also as their texts."""
    found = []
    for path in (bot / "data" / "stories.yml", bot / "data" / "rules.yml"):
        for name, steps in read_stories(path):
            found.append(conversation(name, "stories", as_shortcuts(steps)))
    for name, steps in read_stories(bot / "tests" / "test_stories.yml"):
        found.append(conversation(f"test {name}", "test stories", as_shortcuts(steps)))
        if all("user" in step for step in steps):
            found.append(conversation(f"test {name} (text)", "test stories text", as_texts(steps)))
    return found


def interrupted(base: list[dict[str, Any]], inserts: dict[str, list[str]]) -> list[dict]:
    """Each shortcut conversation with each insert placed before each of its messages and at
    its end."""
    found = []
    for conv in base:
        if conv["source"] == "test stories text":
            continue
        messages = conv["messages"]
        for name, insert in inserts.items():
            for at in range(1, len(messages) + 1):
                spliced = messages[:at] + insert + messages[at:]
                cid = f"{conv['id']} + {name} at {at}"
                found.append(conversation(cid, "variations", spliced))
    return found


def mood_variations(bot: Path) -> list[dict[str, Any]]:
    """initbot and moodbot: interruptions inside their stories, shortcuts for entities the
    domain does not know and intents it does not have, and NLU examples after a greeting."""
    base = [c for c in from_bot_data(bot) if c["source"] == "stories"]
    inserts = {
        "bot challenge": ["/bot_challenge"],
        "goodbye": ["/goodbye"],
        "restart": ["/restart"],
        "unknown words": [UNKNOWN],
        "deny": ["/deny"],
        "affirm": ["/affirm"],
    }
    found = interrupted(base, inserts)
    for conv in base:
        for at in range(1, len(conv["messages"])):
            messages = conv["messages"][:at] + [EXPIRE] + conv["messages"][at:]
            found.append(conversation(f"{conv['id']} + session expiry at {at}", "expiry", messages))
    odd = [["/no_such_intent"], ['/greet{"name": "ann"}'], ["/greet", "/greet", "/greet"],
           ["/session_start", "/greet"], ["/mood_great"], ["/affirm", "/deny"], [""]]  # fmt: skip
    for index, messages in enumerate(odd):
        found.append(conversation(f"odd {index}: {messages}", "variations", messages))
    for intent, texts in nlu_examples(bot, 4).items():
        for index, text in enumerate(texts):
            cid = f"nlu {intent} {index}"
            found.append(conversation(cid, "nlu examples", ["hello", text, "bye"]))
    return found


FORM_FILLS = [
    '/inform{"cuisine": "greek"}',
    '/inform{"number": 4}',
    "/affirm",
    "/deny",
    '/inform{"feedback": "great"}',
]
FORM_TEXTS = {
    "/greet": "hi",
    "/request_restaurant": "im looking for a restaurant",
    '/inform{"cuisine": "greek"}': "greek food",
    '/inform{"number": 4}': "for 4 people",
    "/affirm": "yes",
    "/deny": "no",
    '/inform{"feedback": "great"}': "it was great",
    "/thankyou": "thanks",
    "/chitchat": "can you share your boss with me?",
    "/stop": "you can't help me",
    "/bot_challenge": "are you a bot?",
}
FORM_INTERRUPTIONS = {
    "chitchat": ["/chitchat"],
    "greet": ["/greet"],
    "bot challenge": ["/bot_challenge"],
    "thankyou": ["/thankyou"],
    "unknown words": [UNKNOWN],
    "stop + affirm": ["/stop", "/affirm"],
    "stop + deny": ["/stop", "/deny"],
    "stop + deny + ask again": ["/stop", "/deny", "/request_restaurant"],
    "restart": ["/restart"],
}
WRONG_VALUES = {
    0: ['/inform{"cuisine": "klingon"}'],
    1: ['/inform{"number": 0}', '/inform{"number": "many"}'],
    2: ['/inform{"seating": "maybe"}'],
}
OUTSIDE_FORM = [
    '/inform{"cuisine": "greek"}',
    '/inform{"number": 3}',
    '/inform{"seating": "outside"}',
    '/inform{"feedback": "great"}',
    "/affirm",
    "/deny",
    "/stop",
    "/chitchat",
    UNKNOWN,
]


def form_run(before: list[str], at: int, insert: list[str]) -> list[str]:
    """Greet, ask for a restaurant, fill the form, with ``insert`` before fill ``at``."""
    fills = FORM_FILLS[:at] + insert + FORM_FILLS[at:]
    return [*before, "/greet", "/request_restaurant", *fills, "/thankyou"]


def form_variations() -> list[dict[str, Any]]:
    """formbot: each interruption before each slot; wrong values; slot-filling intents and
    shortcuts outside the form; the request carrying entities; texts for a few."""
    found = [conversation("form happy path", "variations", form_run([], 0, []))]
    for name, insert in FORM_INTERRUPTIONS.items():
        for at in range(len(FORM_FILLS) + 1):
            cid = f"form {name} before fill {at}"
            found.append(conversation(cid, "variations", form_run([], at, insert)))
    for at in range(len(FORM_FILLS) + 1):
        cid = f"form session expiry before fill {at}"
        found.append(conversation(cid, "expiry", form_run([], at, [EXPIRE])))
    for at, wrong in WRONG_VALUES.items():
        for value in wrong:
            cid = f"form wrong value {value}"
            found.append(conversation(cid, "variations", form_run([], at, [value])))
    for message in OUTSIDE_FORM:
        cid = f"form after outside {message}"
        found.append(conversation(cid, "variations", form_run([message], 0, [])))
    entities = ({"cuisine": "greek"}, {"number": 2}, {"cuisine": "greek", "number": 2})
    for index, values in enumerate(entities):
        messages = ["/greet", shortcut("request_restaurant", values), *FORM_FILLS]
        found.append(conversation(f"form request with entities {index}", "variations", messages))
    both = ["/greet", "/request_restaurant", '/inform{"cuisine": "greek", "number": 2}',
            '/inform{"seating": "outside"}', "/deny", "i loved it"]  # fmt: skip
    found.append(conversation("form two slots at once, texts", "variations", both))
    for name in ("chitchat", "stop + affirm", "stop + deny"):
        for at in (1, 3):
            shortcuts = form_run([], at, FORM_INTERRUPTIONS[name])
            texts = [FORM_TEXTS.get(message, message) for message in shortcuts]
            cid = f"form {name} before fill {at} (text)"
            found.append(conversation(cid, "variations text", texts))
    return found


def conversations_for(bot: Path) -> list[dict[str, Any]]:
    """Every conversation the harness drives through ``bot``, with unique ids."""
    found = from_bot_data(bot)
    found += form_variations() if bot.name == "formbot" else mood_variations(bot)
    seen: dict[str, int] = {}
    for conv in found:
        seen[conv["id"]] = seen.get(conv["id"], 0) + 1
        if seen[conv["id"]] > 1:
            conv["id"] += f" #{seen[conv['id']]}"
    return found
