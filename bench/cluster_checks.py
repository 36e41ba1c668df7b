"""What the two-host cluster (``bench/cluster.py``) must do, each check a row of the table.

(a) many clients on ONE conversation through the balancer: every turn stored once, none
lost or interleaved (``bench/same_sender.py``'s check, imported); (b) a training job
submitted through host A, run by the Celery worker, then served by both hosts; (c) a
``PUT /model`` through host A that the very next request to host B answers with; (d) host
A SIGKILLed while clients send turns through the balancer: its in-flight turns fail, no
turn is half-stored, every turn after the kill is served by B, earlier events are intact.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import requests

from bench.same_sender import SCRIPT, CaseResult, _turn_segment, check_conversation

if TYPE_CHECKING:
    from bench.cluster import Archive, Cluster

FULL = {"busy": (16, 16), "switch_rounds": 20, "kill": (8, 30)}
SMOKE = {"busy": (16, 3), "switch_rounds": 4, "kill": (4, 12)}
# Polls of a training job's row (every 0.25 s): a bound, not an expectation.
JOB_POLLS = 2400


@dataclass
class Row:
    case: str
    ok: bool
    details: str


@dataclass
class Turn:
    """One REST webhook turn as its client saw it."""

    sender: str
    text: str
    status: int | None  # None: no HTTP answer at all (connection reset or refused)
    host: str = ""  # the host that answered, from HAProxy's X-Convapi-Host
    replies: list[str] = field(default_factory=list)
    retried: int = 0  # 409 + Retry-After answers (lock wait timed out, nothing stored)
    error: str = ""  # the client's exception when there was no HTTP answer
    after_kill: bool = False  # sent after host A's processes were all dead


def send_turn(
    session: requests.Session,
    base_url: str,
    sender: str,
    text: str,
    after_kill: Callable[[], bool] = lambda: False,
) -> Turn:
    """Send one message; a 409 with Retry-After stored nothing and is retried, nothing else."""
    turn = Turn(sender=sender, text=text, status=None, after_kill=after_kill())
    for _ in range(100):
        try:
            response = session.post(
                f"{base_url}/webhooks/rest/webhook",
                json={"sender": sender, "message": text},
                # Each request on a new connection: HAProxy answers the first request of a
                # connection 502 when its host dies under it (and logs it); a later one on
                # a keep-alive connection it closes without an answer, unlogged.
                headers={"Connection": "close"},
                timeout=120,
            )
        except requests.RequestException as exc:
            turn.status, turn.error = None, _no_answer(exc)
            break
        turn.status, turn.host = response.status_code, response.headers.get("X-Convapi-Host", "")
        if response.status_code == 409 and "Retry-After" in response.headers:
            turn.retried += 1
            time.sleep(float(response.headers["Retry-After"]))
            continue
        if response.status_code == 200:
            turn.replies = [m["text"] for m in response.json() if m.get("text")]
        break
    return turn


def _no_answer(exc: requests.RequestException) -> str:
    """How the connection failed, in words for the table."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "answer cut off"
    if "RemoteDisconnected" in text or "without response" in text:
        return "closed without an answer"
    return "connection reset" if "reset" in text.lower() else type(exc).__name__


def stored_events(base_url: str, sender: str) -> list[dict]:
    url = f"{base_url}/conversations/{sender}/tracker?include_events=ALL"
    response = requests.get(url, timeout=60)
    response.raise_for_status()
    return response.json()["events"]


def _served(base_url: str) -> dict:
    """``GET /status``: the served model's file and id, or the error status."""
    response = requests.get(f"{base_url}/status", timeout=60)
    return response.json() if response.ok else {"model_file": f"HTTP {response.status_code}"}


def _counts(counter: Counter) -> str:
    return ", ".join(f"{key} x {n}" for key, n in sorted(counter.items(), key=str)) or "none"


# -- (a) ----------------------------------------------------------------------------------
def check_one_conversation(cluster: Cluster, clients: int, turns: int, host: str = "") -> Row:
    """``clients`` threads at once on ONE conversation, through the balancer (or straight
    to one ``host``, for comparison)."""
    base_url = cluster.host_url(host) if host else cluster.balancer_url
    sender = f"cluster-busy-{uuid.uuid4().hex[:8]}"
    start = threading.Barrier(clients + 1)

    def client(number: int) -> list[Turn]:
        session = requests.Session()
        start.wait()
        return [
            send_turn(session, base_url, sender,
                      f"{SCRIPT[(number + turn) % len(SCRIPT)]} [{number}.{turn}]")
            for turn in range(turns)
        ]  # fmt: skip

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client, number) for number in range(clients)]
        start.wait()
        began = time.perf_counter()
        sent = [turn for future in futures for turn in future.result()]
        elapsed = time.perf_counter() - began
    result = CaseResult(sender=sender)
    for turn in sent:
        result.statuses[turn.status] += 1
        if turn.status == 200:
            result.replies[turn.text] = turn.replies
    check = check_conversation(base_url, "", result)
    events = stored_events(cluster.host_url("b"), sender)
    users = sum(1 for event in events if event["event"] == "user")
    ok = check.ok and len(result.replies) == len(sent) == users == clients * turns
    hosts = Counter(turn.host or host for turn in sent)
    details = (
        f"{clients} clients x {turns} turns: {_counts(result.statuses)} "
        f"({sum(t.retried for t in sent)} 409s retried), answered by A {hosts['a']} / "
        f"B {hosts['b']}, {len(sent) / elapsed:.0f} turns/s; stored {len(events)} events, "
        f"{users} user turns; lost {check.lost}, duplicated {check.duplicated}, "
        f"interleaved {check.interleaved}, wrong replies {check.wrong_replies}"
    )
    where = f"host {host.upper()} alone" if host else "via HAProxy"
    return Row(f"a. {clients} clients, one conversation, {where}", ok, details)


# -- (b) ----------------------------------------------------------------------------------
def check_training(cluster: Cluster) -> Row:
    """``POST /model/train?async=true`` through A, the worker trains, A and B serve it."""
    from bench.jobs import training_document

    case = "b. training job through host A, served by A and B"
    host_a, host_b = cluster.host_url("a"), cluster.host_url("b")
    submitted = requests.post(
        f"{host_a}/model/train?async=true&force_training=true",
        data=training_document("initbot"),
        headers={"Content-Type": "application/x-yaml"},
        timeout=60,
    )
    if submitted.status_code != 202:
        return Row(case, False, f"POST /model/train answered {submitted.status_code}")
    job = _wait_for_job(f"{host_b}{submitted.headers['Location']}")
    if job.get("status") != "succeeded":
        return Row(case, False, f"job {job.get('id')} ended {job.get('status')}: {job}")
    filename, sha256 = job["result"]["filename"], job["result"]["sha256"]
    # By hash: host A has never seen the archive's file; it comes from the model store.
    chosen = requests.put(f"{host_a}/model", json={"model_file": sha256}, timeout=120)
    served = {host: [_served(cluster.host_url(host)) for _ in range(4)] for host in "ab"}
    answered = {
        host: send_turn(requests.Session(), cluster.host_url(host), f"trained-{host}", "hello")
        for host in "ab"
    }
    every = [status for statuses in served.values() for status in statuses]
    ok = chosen.status_code == 204 and all(status["model_file"] == filename for status in every)
    ok = ok and len({status.get("model_id") for status in every}) == 1
    ok = ok and all(turn.status == 200 and turn.replies for turn in answered.values())
    details = (
        f"job {job['status']} on the Celery worker in {job.get('seconds')} s (polled through "
        f"B); PUT /model through A naming its hash: {chosen.status_code}; GET /status x 4 on "
        f"A: {_same(served['a'], filename)}, on B: {_same(served['b'], filename)}; a turn on "
        f"each host: {answered['a'].status} / {answered['b'].status}"
    )
    return Row(case, ok, details)


def _wait_for_job(url: str) -> dict:
    job: dict = {}
    for _ in range(JOB_POLLS):
        job = requests.get(url, timeout=60).json()
        if job.get("status") in ("succeeded", "failed"):
            return job
        time.sleep(0.25)
    return job


def _same(statuses: list[dict], expected: str) -> str:
    names = [status["model_file"] for status in statuses]
    right = sum(1 for name in names if name == expected)
    return f"{right} of {len(names)} the trained model" + (
        "" if right == len(names) else f" (saw {sorted(set(names))})"
    )


# -- (c) ----------------------------------------------------------------------------------
def check_model_switch(cluster: Cluster, archives: list[Archive], rounds: int) -> Row:
    """PUT /model through A, then at once GET /status twice on B (both workers), then on A.

    The first PUT names the second archive's file on A's disk (A stores it); the others
    name an archive by its hash, so B loads it from the store into its own cache."""
    stale = checked = 0
    statuses: Counter = Counter()
    for number in range(rounds):
        archive = archives[(number + 1) % len(archives)]
        reference = str(archive.path) if number == 0 else archive.sha256
        chosen = requests.put(
            f"{cluster.host_url('a')}/model", json={"model_file": reference}, timeout=120
        )
        statuses[chosen.status_code] += 1
        for host in ("b", "b", "a", "a"):
            checked += 1
            stale += _served(cluster.host_url(host)).get("model_id") != archive.model_id
    ok = stale == 0 and set(statuses) == {204}
    details = (
        f"{rounds} PUT /model through A, alternating two archives by hash ({_counts(statuses)}); "
        f"each followed at once by GET /status on B twice, then on A twice: "
        f"{checked - stale} of {checked} answered with the new model id, {stale} stale"
    )
    return Row("c. PUT /model through A, next request to B", ok, details)


# -- (d) ----------------------------------------------------------------------------------
@dataclass
class Audit:
    """The stored conversations after the kill, judged turn by turn."""

    half_stored: int = 0  # a user event not followed by its whole turn up to action_listen
    lost: int = 0  # answered 200, not stored
    duplicated: int = 0
    wrong_replies: int = 0  # stored bot messages other than the ones the client was answered
    failed_stored: int = 0  # the client saw an error, yet the whole turn was stored
    unknown: int = 0  # stored user text nobody sent
    prefix_intact: int = 0  # conversations whose events from before are unchanged

    @property
    def ok(self) -> bool:
        return not (self.half_stored or self.lost or self.duplicated or self.wrong_replies
                    or self.unknown)  # fmt: skip


def audit(before: dict[str, list[dict]], after: dict[str, list[dict]], sent: list[Turn]) -> Audit:
    result = Audit()
    for sender, events in after.items():
        prior = before[sender]
        result.prefix_intact += events[: len(prior)] == prior
        mine = [turn for turn in sent if turn.sender == sender]
        answered = {turn.text: turn.replies for turn in mine if turn.status == 200}
        failed = {turn.text for turn in mine if turn.status != 200}
        new = events[len(prior) :]
        users = [i for i, event in enumerate(new) if event["event"] == "user"]
        texts = Counter(new[i].get("text") for i in users)
        result.lost += len(set(answered) - set(texts))
        result.duplicated += sum(count - 1 for count in texts.values())
        for i in users:
            segment, text = _turn_segment(new, i), new[i].get("text")
            if segment is None:
                result.half_stored += 1
            elif text in answered:
                bot = [e["text"] for e in segment if e["event"] == "bot" and e.get("text")]
                result.wrong_replies += bot != answered[text]
            elif text in failed:
                result.failed_stored += 1
            else:
                result.unknown += 1
    return result


def check_host_killed(cluster: Cluster, clients: int, turns: int) -> Row:
    """Clients on their own conversations through the balancer; host A SIGKILLed a third in."""
    run = uuid.uuid4().hex[:8]
    senders = [f"cluster-kill-{run}-{number}" for number in range(clients)]
    warm = [send_turn(requests.Session(), cluster.balancer_url, s, t)
            for s in senders for t in SCRIPT[:3]]  # fmt: skip
    before = {sender: stored_events(cluster.host_url("b"), sender) for sender in senders}
    threshold = clients * turns // 3
    done, reached, killed, lock = [0], threading.Event(), threading.Event(), threading.Lock()

    def client(number: int) -> list[Turn]:
        session, mine = requests.Session(), []
        for turn in range(turns):
            text = f"{SCRIPT[(number + turn) % len(SCRIPT)]} [{number}.{turn}]"
            mine.append(send_turn(session, cluster.balancer_url, senders[number], text,
                                  after_kill=killed.is_set))  # fmt: skip
            with lock:
                done[0] += 1
                if done[0] >= threshold:
                    reached.set()
        return mine

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client, number) for number in range(clients)]
        reached.wait(timeout=600)
        dead = cluster.kill_host("a")
        killed.set()
        sent = [turn for future in futures for turn in future.result()]
    after = {sender: stored_events(cluster.host_url("b"), sender) for sender in senders}
    return _kill_row(warm, sent, dead, audit(before, after, sent), before)


def _kill_row(
    warm: list[Turn], sent: list[Turn], dead: int, result: Audit, before: dict[str, list]
) -> Row:
    earlier = [turn for turn in sent if not turn.after_kill]
    later = [turn for turn in sent if turn.after_kill]
    failed = [turn for turn in earlier if turn.status != 200]
    later_ok = all(turn.status == 200 and turn.host == "b" for turn in later)
    ok = (
        dead > 0
        and all(turn.status == 200 for turn in warm)
        and later_ok
        and result.ok
        and result.prefix_intact == len(before)
    )
    hosts = Counter(turn.host for turn in earlier if turn.status == 200)
    details = (
        f"{len(before)} clients x {len(sent) // len(before)} turns, each on its own "
        f"conversation (3 turns stored before); host A's {dead} gunicorn processes SIGKILLed "
        f"after {len(sent) // 3} turns. Before and during the kill: {len(earlier)} turns, "
        f"answered by A {hosts['a']} / B {hosts['b']}, {len(failed)} failed "
        f"({_counts(Counter(t.status or t.error for t in failed))}), "
        f"{result.failed_stored} of those stored whole. After: {len(later)} turns, "
        f"{sum(1 for t in later if t.status == 200 and t.host == 'b')} answered 200 by B"
        f"{_odd(later)}. "
        f"Stored: half-stored {result.half_stored}, lost {result.lost}, duplicated "
        f"{result.duplicated}, wrong replies {result.wrong_replies}, unknown {result.unknown}; "
        f"earlier events intact in {result.prefix_intact} of {len(before)} conversations"
    )
    return Row("d. host A SIGKILLed mid-load", ok, details)


def _odd(later: list[Turn]) -> str:
    """The turns after the kill that were not answered 200 by B, as "(others: ...)"."""
    odd = Counter(
        f"{t.status or t.error} from {t.host or 'nobody'}"
        for t in later
        if t.status != 200 or t.host != "b"
    )
    return f" (others: {_counts(odd)})" if odd else ""


# -- the table ----------------------------------------------------------------------------
def run_checks(cluster: Cluster, archives: list[Archive], *, smoke: bool) -> list[Row]:
    sizes = SMOKE if smoke else FULL
    rows = [check_one_conversation(cluster, *sizes["busy"])]
    if not smoke:
        rows.append(check_one_conversation(cluster, *sizes["busy"], host="b"))
        rows.append(check_training(cluster))
    rows.append(check_model_switch(cluster, archives, sizes["switch_rounds"]))
    rows.append(check_host_killed(cluster, *sizes["kill"]))
    return rows


def table(rows: list[Row]) -> str:
    lines = ["| check | result | details |", "|---|---|---|"]
    lines += [f"| {row.case} | {'ok' if row.ok else 'FAILED'} | {row.details} |" for row in rows]
    return "\n".join(lines)
