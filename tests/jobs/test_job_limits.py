"""Every job runs in a child process under a memory and a CPU-time limit: a runaway job
fails with its reason on its row, and the process that ran it (a web worker when eager)
lives on and keeps answering."""

from __future__ import annotations

import errno
import faulthandler
import os
import random
import signal
import threading
from pathlib import Path

import pytest
import requests
from django.db import connection

from jobs.limits import LimitExceeded, limited_call
from jobs.models import Job
from jobs.services import job_run
from serving.models import ModelArchive
from tests.api.conftest import gunicorn_on_test_db  # noqa: F401 - a fixture, registered by import
from tests.jobs.conftest import training_document, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("jobs_env")]


def big_training_document(intents: int, examples: int = 20, vocabulary: int = 100_000) -> str:
    """Far more training than the limits below allow: many intents of random words."""
    rng = random.Random(7)
    lines = ["intents:", *(f"  - intent{i}" for i in range(intents)), "nlu:"]
    for intent in range(intents):
        lines += [f"  - intent: intent{intent}", "    examples: |"]
        for _ in range(examples):
            lines.append("      - " + " ".join(f"w{rng.randrange(vocabulary)}" for _ in range(8)))
    return "\n".join(lines) + "\n"


def run_training(document: str) -> Job:
    job = Job.objects.create(kind="train", params={"force_training": True}, body=document)
    job_run(job_id=str(job.pk))  # in this process, whatever the broker
    job.refresh_from_db()
    return job


def test_it_fails_a_training_over_its_memory_limit_and_runs_the_next(settings):
    settings.CONVAPI_JOB_MEMORY_MB = 16
    job = run_training(big_training_document(200))
    assert job.status == Job.Status.FAILED
    assert job.error["reason"] == "TrainingError"
    assert job.error["code"] == 400
    assert "CONVAPI_JOB_MEMORY_MB" in job.error["message"]
    assert not ModelArchive.objects.exists()
    # The process that ran it is unharmed: the next job, within its limits, succeeds.
    settings.CONVAPI_JOB_MEMORY_MB = 4096
    job = run_training(training_document())
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert ModelArchive.objects.get().sha256 == job.result["sha256"]


def clean_up_failing_for_lack_of_memory() -> None:
    """What training does at its limit: the MemoryError unwinds through a temporary
    directory whose removal fails too, and the OSError replaces it."""
    try:
        raise MemoryError()
    finally:
        raise OSError(errno.ENOMEM, "Cannot allocate memory", "/tmp/convapi-train-x")


def test_a_memory_error_replaced_by_its_clean_up_still_names_the_memory_limit():
    with pytest.raises(LimitExceeded, match=r"limit of 16 MB \(CONVAPI_JOB_MEMORY_MB\)"):
        limited_call(
            clean_up_failing_for_lack_of_memory, memory_mb=16, cpu_seconds=5, wall_seconds=30
        )


def test_an_unrelated_os_error_is_reported_as_it_is():
    def missing_file() -> None:
        raise FileNotFoundError(errno.ENOENT, "No such file", "/nowhere")

    with pytest.raises(RuntimeError, match="No such file") as raised:
        limited_call(missing_file, memory_mb=64, cpu_seconds=5, wall_seconds=30)
    assert not isinstance(raised.value, LimitExceeded)


def crash_like_native_code_out_of_memory() -> None:
    """What liblinear does when malloc returns NULL under the limit: a NULL dereference."""
    faulthandler.disable()  # pytest's, inherited: no traceback dump for a crash on purpose
    os.kill(os.getpid(), signal.SIGSEGV)


def test_a_child_killed_as_native_code_is_when_an_allocation_fails_names_the_memory_limit():
    with pytest.raises(LimitExceeded, match=r"SIGSEGV.*limit of 16 MB \(CONVAPI_JOB_MEMORY_MB\)"):
        limited_call(
            crash_like_native_code_out_of_memory, memory_mb=16, cpu_seconds=5, wall_seconds=30
        )


def test_a_child_that_exits_without_a_result_is_an_internal_error():
    with pytest.raises(RuntimeError, match=r"without a result \(exit status 3\)") as raised:
        limited_call(lambda: os._exit(3), memory_mb=64, cpu_seconds=5, wall_seconds=30)
    assert not isinstance(raised.value, LimitExceeded)


def test_it_fails_a_training_over_its_cpu_time_limit(settings):
    settings.CONVAPI_JOB_CPU_SECONDS = 1
    job = run_training(big_training_document(200))
    assert job.status == Job.Status.FAILED
    assert job.error["reason"] == "TrainingError"
    assert "more CPU time than its limit of 1 s (CONVAPI_JOB_CPU_SECONDS)" in job.error["message"]
    assert not ModelArchive.objects.exists()


def test_a_job_reports_progress_from_its_child_process(settings):
    job = run_training(training_document())
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.progress == 1.0
    assert Path(job.result_file).is_file()


def server_processes(port: int) -> set[int]:
    """gunicorn's master and workers serving ``port`` (their command lines name it)."""
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"127.0.0.1:{port}".encode() in cmdline.read_bytes():
                found.add(int(cmdline.parent.name))
        except OSError:
            continue  # ended meanwhile
    return found


@pytest.mark.slow
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="gunicorn's workers need PostgreSQL to share"
)
def test_the_embedded_mode_answers_turns_while_a_runaway_job_runs(gunicorn_on_test_db):  # noqa: F811
    base_url = gunicorn_on_test_db(workers=1, threads=4, env={"CONVAPI_JOB_CPU_SECONDS": "8"})
    port = int(base_url.rsplit(":", 1)[1])
    processes = server_processes(port)
    answers: list[requests.Response] = []
    training = threading.Thread(
        target=lambda: answers.append(
            requests.post(
                f"{base_url}/model/train",
                # Many examples of few words: a long training in little memory, so the CPU
                # limit stops it. With 1,500 intents of 100,000 words the classifier's
                # weights could reach the memory limit first, and liblinear, which does not
                # check its allocations, then dies of SIGSEGV instead of a MemoryError.
                data=big_training_document(300, examples=100, vocabulary=2_000),
                headers={"Content-Type": "application/x-yaml"},
                timeout=600,
            )
        )
    )
    training.start()
    running = wait_for(
        lambda: requests.get(f"{base_url}/jobs?status=running", timeout=10).json()["results"],
        what="the training to run",
    )
    turn = requests.post(
        f"{base_url}/webhooks/rest/webhook", json={"sender": "ann", "message": "hello"}, timeout=60
    )
    assert turn.status_code == 200
    assert turn.json() == [{"recipient_id": "ann", "text": "Hey! How are you?"}]
    job_url = f"{base_url}/jobs/{running[0]['id']}"
    assert requests.get(job_url, timeout=10).json()["status"] == "running"  # answered meanwhile
    training.join()
    assert answers[0].status_code == 400
    assert "CONVAPI_JOB_CPU_SECONDS" in answers[0].json()["message"]
    job = requests.get(job_url, timeout=10).json()
    assert job["status"] == "failed"
    assert job["error"]["reason"] == "TrainingError"
    assert server_processes(port) == processes  # the worker that ran it was never replaced
    # Run once, here: never taken for lost and handed to another worker meanwhile.
    assert Job.objects.get(pk=running[0]["id"]).runs == 1
