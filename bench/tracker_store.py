"""Tracker store benchmark: does a turn cost the same at 10 events as at 100,000?

For conversations with 10, 1,000, 10,000 and 100,000 stored events it times, through
the whole HTTP stack (Django's test client, in-process), appending one turn of three
events and reading the tracker with ``include_events=NONE``; on SQLite and on
PostgreSQL (when reachable). Prints a Markdown table.

    .venv/bin/python bench/tracker_store.py [--sizes 10,1000,10000,100000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_URL = "postgres://postgres@127.0.0.1:5432/convapi_bench"
TURN = [
    {
        "event": "user",
        "text": "hi",
        "parse_data": {"intent": {"name": "greet", "confidence": 1.0}, "entities": []},
    },
    {"event": "action", "name": "utter_greet"},
    {"event": "bot", "text": "Hey! How are you?"},
]


def turn_events(count: int) -> list[dict]:
    events = [
        {"event": "action", "name": "action_session_start"},
        {"event": "session_started"},
        {"event": "action", "name": "action_listen"},
    ]
    pattern = TURN + [{"event": "action", "name": "action_listen"}]
    while len(events) < count:
        events.append(dict(pattern[len(events) % len(pattern)]))
    return events[:count]


def populate(sender_id: str, count: int) -> None:
    """Store ``count`` events directly (fast), then build the snapshot from the log."""
    from engine.events import event_from_dict
    from serving.holder import current_assistant
    from trackers import store
    from trackers.models import Conversation, Event

    conversation = Conversation.objects.create(sender_id=sender_id)
    rows = [
        store.row_from_event(conversation, seq, event_from_dict(data))
        for seq, data in enumerate(turn_events(count), start=1)
    ]
    Event.objects.bulk_create(rows, batch_size=5000)
    conversation.event_count = count
    conversation.latest_session_seq = 1
    conversation.latest_reset_seq = 2
    conversation.save(update_fields=["event_count", "latest_session_seq", "latest_reset_seq"])
    store.snapshot_rebuild(conversation, current_assistant().domain.slot_defaults())


def timed(call, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content[:200]
    return statistics.median(samples)


def run_backend(sizes: list[int], repeat: int) -> list[dict]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from serving.holder import assistant_from_domain_file, assistant_set

    call_command("migrate", verbosity=0)
    bots = ROOT.parent / "shared" / "reference" / "bots"
    assistant_set(assistant_from_domain_file(bots / "initbot" / "domain.yml"))
    client = Client()
    rows = []
    for size in sizes:
        sender = f"bench-{size}-{time.time_ns()}"
        populate(sender, size)
        url = f"/conversations/{sender}/tracker"
        body = json.dumps(TURN)
        append_ms = timed(
            lambda url=url, body=body: client.post(
                url + "/events?include_events=NONE", body, content_type="application/json"
            ),
            repeat,
        )
        get_ms = timed(lambda url=url: client.get(url + "?include_events=NONE"), repeat)
        rows.append({"events": size, "append_ms": append_ms, "get_ms": get_ms})
    return rows


def prepare_postgres() -> bool:
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            c.execute("DROP DATABASE IF EXISTS convapi_bench")
            c.execute("CREATE DATABASE convapi_bench")
        return True
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        print(f"(PostgreSQL not reachable, skipped: {exc})", file=sys.stderr)
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if args.worker:
        print(json.dumps(run_backend(sizes, args.repeat)))
        return
    backends = []
    with tempfile.TemporaryDirectory() as tmp:
        backends.append(("SQLite", f"sqlite:///{tmp}/bench.sqlite3"))
        if prepare_postgres():
            backends.append(("PostgreSQL", PG_URL))
        print(
            "| backend | stored events | append turn (3 events) p50 ms | GET tracker NONE p50 ms |"
        )
        print("|---|---:|---:|---:|")
        for name, url in backends:
            env = {**os.environ, "DATABASE_URL": url, "CONVAPI_LOG_LEVEL": "WARNING"}
            env.pop("CELERY_BROKER_URL", None)
            output = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    "--sizes",
                    args.sizes,
                    "--repeat",
                    str(args.repeat),
                ],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            rows = json.loads(output.strip().splitlines()[-1])
            for row in rows:
                print(
                    f"| {name} | {row['events']:,} | {row['append_ms']:.2f} | {row['get_ms']:.2f} |"
                )
            first, last = rows[0], rows[-1]
            append_ratio = last["append_ms"] / first["append_ms"]
            get_ratio = last["get_ms"] / first["get_ms"]
            print(
                f"| {name} | ratio {last['events']:,} / {first['events']:,} | "
                f"{append_ratio:.2f}x | {get_ratio:.2f}x |"
            )


if __name__ == "__main__":
    main()
