"""The kinds of work a job can do, registered by the apps that own them.

An app registers its kinds from its ``AppConfig.ready()``; the job machinery looks a
kind up by the name stored on the row, so ``jobs/`` imports none of the apps whose work
it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.models import Job

# What a kind's work returns: a JSON report or description, and a file to hand back ("" if none).
Outcome = tuple[dict[str, Any], str]


def recorded_result_file(job: Job) -> Path:
    return Path(job.result_file)


@dataclass(frozen=True)
class JobKind:
    name: str
    work: Callable[[Job], Outcome]
    # Rasa's error reason recorded when the work breaks on the server's side.
    failure_reason: str = "UnexpectedError"
    # The job's result file on the host asking, which need not be the host that ran the
    # job (a callback is delivered by any worker): by default the path the work returned.
    local_result_file: Callable[[Job], Path] = recorded_result_file


_kinds: dict[str, JobKind] = {}


def job_kind_register(kind: JobKind) -> None:
    _kinds[kind.name] = kind


def job_kind(name: str) -> JobKind:
    """The registered kind; ``LookupError`` for a name no installed app registered."""
    try:
        return _kinds[name]
    except KeyError:
        raise LookupError(f"No kind of job is registered as '{name}'.") from None
