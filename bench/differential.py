"""convapi against the real Rasa 3.6 server, conversation by conversation: the differential
harness of issue 16.

For each bot (initbot, moodbot, formbot, from ``../shared/reference/bots``) it trains the
bot once with the peer (``../shared/peers/rasa/serve.sh --train-only``, cached under
--workdir) and with convapi (``manage.py train``, from the peer's copy of the bot, so both
train on the very same files), starts both servers (Rasa: ``serve.sh``, in-memory tracker
store; convapi: gunicorn on a fresh SQLite database) and, for formbot, one rasa-sdk action
server running ``bench/formbot_actions`` that both call. Every conversation of
``bench/differential_conversations.py`` is sent to both over the REST channel
(``POST /webhooks/rest/webhook``), and after each user message both trackers are read
(``GET /conversations/{id}/tracker?include_events=ALL``). A turn is identical when the
bot's replies, the actions run since the user message, the slots, ``active_loop`` and
``requested_slot`` are. It prints the agreement per bot and source, and every divergence
with both sides' events, and saves the transcripts as JSON (``bench/differential/<bot>.json``).

``--replay`` needs no peer: it drives convapi alone through the saved transcripts and
compares with Rasa's saved side, so a divergence is a regression test.

    .venv/bin/python bench/differential.py [--bots initbot,moodbot,formbot] [--limit N]
    .venv/bin/python bench/differential.py --replay [--bots formbot]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from action_server import start_rasa_sdk  # noqa: E402
from compare_rasa import BOTS, PEER, ROOT, TOKEN, stop, wait_up  # noqa: E402
from differential_conversations import EXPIRE, conversations_for  # noqa: E402

ACTIONS = ROOT / "bench" / "formbot_actions"
TRANSCRIPTS = ROOT / "bench" / "differential"
MOODBOT_CONFIG = """recipe: default.v1
assistant_id: mood_bot
language: en
pipeline:
policies:
"""
EXPIRY_SECONDS = 7200
COMPARED = ("replies", "actions", "slots", "active_loop", "requested_slot")


def bot_copy(bot: str, work: Path) -> Path:
    """The peer's copy of ``bot``, made the way serve.sh makes it (moodbot gets the default
    pipeline: its spaCy model cannot be installed here), for a replay without the peer."""
    target = work / "peer" / bot
    if not target.exists():
        shutil.copytree(BOTS / bot, target)
        if bot == "moodbot":
            (target / "config.yml").write_text(MOODBOT_CONFIG)
    return target


def peer_bot(bot: str, work: Path) -> Path:
    """The peer's copy of ``bot`` (serve.sh adapts moodbot and formbot), trained once."""
    subprocess.run(
        ["bash", str(PEER / "serve.sh"), "--bot", bot, "--workdir", str(work / "peer"),
         "--train-only"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800,
    )  # fmt: skip
    return work / "peer" / bot


def convapi_env(bot: str, work: Path, action_port: int) -> dict[str, str]:
    home = work / "convapi" / bot
    home.mkdir(parents=True, exist_ok=True)
    (home / "endpoints.yml").write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{action_port}/webhook\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{home / 'db.sqlite3'}",
        "CONVAPI_MODEL": str(home / "models"),
        "CONVAPI_ENDPOINTS": str(home / "endpoints.yml"),
        "CONVAPI_AUTH_TOKEN": TOKEN,
        "CONVAPI_LOG_LEVEL": "WARNING",
    }
    env.pop("CELERY_BROKER_URL", None)
    return env


def start_convapi(bot_dir: Path, env: dict[str, str], port: int) -> subprocess.Popen:
    """A fresh database, the bot trained (``manage.py train`` skips an unchanged bot), and
    gunicorn serving it."""
    Path(env["DATABASE_URL"].removeprefix("sqlite:///")).unlink(missing_ok=True)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run(
        [*manage, "train", "--bot", str(bot_dir), "--out", env["CONVAPI_MODEL"]],
        env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "4", "--timeout", "600"],
        env=env, cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def start_rasa(bot: str, work: Path, port: int, action_port: int) -> subprocess.Popen:
    log = (work / f"rasa-{bot}.log").open("w")
    return subprocess.Popen(
        ["bash", str(PEER / "serve.sh"), "--bot", bot, "--workdir", str(work / "peer"),
         "--token", TOKEN, "--port", str(port), "--tracker", "memory",
         "--action-url", f"http://127.0.0.1:{action_port}/webhook"],
        start_new_session=True, stdout=log, stderr=log,
    )  # fmt: skip


def compact_event(event: dict[str, Any]) -> dict[str, Any]:
    """An event without its timestamp and with only the intent and entities of its parse."""
    # Nulls and falses are left out (they are most of an event) but a slot's value is kept.
    kept = {k: v for k, v in event.items() if v or k == "value"}
    for key in ("timestamp", "parse_data", "metadata"):
        kept.pop(key, None)
    if isinstance(kept.get("data"), dict):
        kept["data"] = {k: v for k, v in kept["data"].items() if v}
    if event.get("event") == "user":
        parse = event.get("parse_data") or {}
        kept["intent"] = (parse.get("intent") or {}).get("name")
        kept["entities"] = [{e.get("entity"): e.get("value")} for e in parse.get("entities", [])]
        kept.pop("input_channel", None)
        kept.pop("message_id", None)
    return kept


def turn(url: str, sender: str, message: str) -> dict[str, Any]:
    """One user message: the replies, then what the tracker gained and holds. The events
    of the turn are found by their timestamps, not by counting: after a restart or a new
    session Rasa answers fewer events than before, even with ``include_events=ALL``."""
    auth = {"token": TOKEN}
    sent = time.time()
    answer = requests.post(
        f"{url}/webhooks/rest/webhook", params=auth, json={"sender": sender, "message": message},
        timeout=120,
    )  # fmt: skip
    replies = answer.json() if answer.ok else {"status": answer.status_code}
    if isinstance(replies, list):
        replies = [{k: v for k, v in r.items() if k != "recipient_id"} for r in replies]
    tracker = requests.get(
        f"{url}/conversations/{sender}/tracker", params={**auth, "include_events": "ALL"},
        timeout=60,
    ).json()  # fmt: skip
    everything = tracker.get("events", [])
    events = [compact_event(e) for e in everything if e.get("timestamp", sent) >= sent]
    slots = tracker.get("slots") or {}
    return {
        "replies": replies,
        "actions": [e["name"] for e in events if e.get("event") == "action"],
        "slots": slots,
        "active_loop": (tracker.get("active_loop") or {}).get("name"),
        "requested_slot": slots.get("requested_slot"),
        "intent": next((e["intent"] for e in events if e.get("event") == "user"), None),
        "events": events,
        "event_count": len(everything),
    }


def expire(url: str, sender: str) -> None:
    """Shift every event of the conversation two hours back and write them back
    (``PUT .../tracker/events``): the next message finds the session expired."""
    auth = {"token": TOKEN}
    events = requests.get(
        f"{url}/conversations/{sender}/tracker", params={**auth, "include_events": "ALL"},
        timeout=60,
    ).json()["events"]  # fmt: skip
    for event in events:
        event["timestamp"] -= EXPIRY_SECONDS
    answer = requests.put(
        f"{url}/conversations/{sender}/tracker/events", params=auth, json=events, timeout=60
    )
    answer.raise_for_status()


def differing(rasa: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    return [field for field in COMPARED if rasa.get(field) != ours.get(field)]


def drive(conv: dict[str, Any], urls: dict[str, str], saved: dict | None) -> dict[str, Any]:
    """Both servers (or convapi and the saved Rasa side) through one conversation."""
    sender = f"diff-{uuid.uuid4().hex[:12]}"
    turns = []
    for index, message in enumerate(conv["messages"]):
        if message == EXPIRE:
            for url in urls.values():
                expire(url, sender)
            turns.append({"message": message, "directive": True, "differs": []})
            continue
        sides = {}
        for side, url in urls.items():
            sides[side] = turn(url, sender, message)
        if saved is not None:
            sides["rasa"] = saved["turns"][index]["rasa"]
        diff = differing(sides["rasa"], sides["convapi"])
        turns.append({"message": message, **sides, "differs": diff})
    return {**conv, "turns": turns}


def run_bot(bot: str, args: argparse.Namespace, saved: dict | None) -> list[dict[str, Any]]:
    work = args.workdir
    bot_dir = bot_copy(bot, work) if saved else peer_bot(bot, work)
    convs = saved["conversations"] if saved else conversations_for(BOTS / bot)
    convs = [c for c in convs if not args.source or c["source"] == args.source]
    convs = convs[: args.limit] if args.limit else convs
    env = convapi_env(bot, work, args.action_port)
    servers = [start_rasa_sdk(actions="actions", port=args.action_port, cwd=ACTIONS)]
    try:
        servers.append(start_convapi(bot_dir, env, args.port))
        urls = {"convapi": f"http://127.0.0.1:{args.port}"}
        if not saved:
            servers.append(start_rasa(bot, work, args.rasa_port, args.action_port))
            urls["rasa"] = f"http://127.0.0.1:{args.rasa_port}"
        for url in urls.values():
            wait_up(url, 600)
        return [drive(conv, urls, conv if saved else None) for conv in convs]
    finally:
        for server in reversed(servers):
            stop(server)


def report(bot: str, convs: list[dict[str, Any]]) -> dict[str, Any]:
    """Print every divergence with both sides' events; return the bot's counts."""
    counts: Counter = Counter()
    for conv in convs:
        for index, step in enumerate(conv["turns"]):
            if step.get("directive"):
                continue
            counts["turns", conv["source"]] += 1
            counts["same", conv["source"]] += not step["differs"]
            if step["differs"]:
                print(f"\n[{bot}] {conv['id']!r} turn {index + 1} {step['message']!r}: "
                      f"{', '.join(step['differs'])} differ")  # fmt: skip
                for side in ("rasa", "convapi"):
                    shown = {k: step[side][k] for k in step["differs"] if k != "slots"}
                    if "slots" in step["differs"]:
                        other = step["convapi" if side == "rasa" else "rasa"]["slots"]
                        shown["slots"] = {k: v for k, v in step[side]["slots"].items()
                                          if other.get(k) != v}  # fmt: skip
                    events = [compact_line(e) for e in step[side]["events"]]
                    print(f"  {side:8}{json.dumps(shown)}\n  {'':8}events: {'; '.join(events)}")
        counts["conversations"] += 1
        counts["identical conversations"] += all(not t["differs"] for t in conv["turns"])
    return counts


def compact_line(event: dict[str, Any]) -> str:
    kind = event.get("event")
    if kind == "action":
        return f"action {event.get('name')} ({event.get('policy')})"
    if kind == "user":
        return f"user {event.get('text')!r} -> {event.get('intent')} {event.get('entities') or ''}"
    if kind == "bot":
        return f"bot {event.get('text')!r}"
    if kind == "slot":
        return f"slot {event.get('name')}={event.get('value')!r}"
    if kind == "active_loop":
        return f"active_loop {event.get('name')}"
    return str(kind)


def table(results: dict[str, Counter]) -> None:
    print("\n| bot | source | conversations | turns | identical turns | agreement |")
    print("|---|---|---:|---:|---:|---:|")
    for bot, counts in results.items():
        sources = sorted({key[1] for key in counts if isinstance(key, tuple) and key[0] == "turns"})
        total = sum(counts["turns", s] for s in sources)
        same = sum(counts["same", s] for s in sources)
        for source in sources:
            turns, ident = counts["turns", source], counts["same", source]
            print(f"| {bot} | {source} | | {turns} | {ident} | {100 * ident / turns:.1f}% |")
        convs = f"{counts['conversations']} ({counts['identical conversations']} identical)"
        rate = 100 * same / max(total, 1)
        print(f"| **{bot}** | all | {convs} | {total} | {same} | **{rate:.1f}%** |")


def save(bot: str, convs: list[dict[str, Any]]) -> None:
    """The transcripts: Rasa's side of every turn, convapi's only where it differs."""
    TRANSCRIPTS.mkdir(exist_ok=True)
    kept = [
        {**conv, "turns": [t if t["differs"] else {**t, "convapi": None} for t in conv["turns"]]}
        for conv in convs
    ]
    lines = ",\n".join(json.dumps(conv, sort_keys=True) for conv in kept)
    header = json.dumps({"bot": bot, "peer": "rasa 3.6.21", "saved": time.strftime("%Y-%m-%d")})
    (TRANSCRIPTS / f"{bot}.json").write_text(f'{header[:-1]}, "conversations": [\n{lines}\n]}}\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", default="initbot,moodbot,formbot")
    parser.add_argument("--limit", type=int, default=0, help="conversations per bot")
    parser.add_argument("--source", help="only these conversations: stories, expiry, ...")
    parser.add_argument("--replay", action="store_true", help="convapi against saved transcripts")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/convapi-differential"))
    parser.add_argument("--port", type=int, default=5316, help="convapi")
    parser.add_argument("--rasa-port", type=int, default=5315)
    parser.add_argument("--action-port", type=int, default=5317)
    args = parser.parse_args()
    results = {}
    for bot in args.bots.split(","):
        saved = json.loads((TRANSCRIPTS / f"{bot}.json").read_text()) if args.replay else None
        convs = run_bot(bot, args, saved)
        if not args.replay:
            save(bot, convs)
        results[bot] = report(bot, convs)
    table(results)


if __name__ == "__main__":
    main()
