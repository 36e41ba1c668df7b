"""A job's work in a child process, under a memory limit and a CPU-time limit.

A runaway job (training data far larger than the machine can hold, input that sends a
library into a loop) must fail with its reason on its row, never take its process down: in
the embedded (eager) mode that process is a web worker, still answering other requests.
Resource limits hold for a whole process, so the work runs in a forked child with
``RLIMIT_DATA`` and ``RLIMIT_CPU`` set; it sends its JSON outcome back through a pipe, and a
child stopped by a limit becomes ``LimitExceeded`` naming the setting. Fork, not a fresh
interpreter: the child keeps the loaded code, the settings and (in tests) the test database.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import logging
import os
import resource
import select
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from django.db import connections

logger = logging.getLogger(__name__)

# The soft CPU limit raises in the child; the hard one (this much later) kills it outright
# when the time is spent inside C code that never returns to Python.
CPU_HARD_MARGIN_SECONDS = 5
_PR_SET_PDEATHSIG = 1
# The parent's connections, in the child: never used, never closed (closing a PostgreSQL
# connection sends the server a goodbye on the socket the parent still uses).
_inherited_connections: list[Any] = []


class LimitExceeded(Exception):
    """The work was stopped by a limit; the message names its setting."""


class _CpuTimeSpent(BaseException):
    """Raised in the child by SIGXCPU; a BaseException so the work's handlers let it pass."""


def limited_call(
    work: Callable[[], Any], *, memory_mb: int, cpu_seconds: int, wall_seconds: float
) -> Any:
    """``work()``'s value (JSON), computed in a child process within the limits.

    ``memory_mb`` is what the child may allocate beyond what the process held already.
    """
    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(work, write_end, parent=parent, memory_mb=memory_mb, cpu_seconds=cpu_seconds)
    os.close(write_end)
    try:
        data = _read_until_closed(read_end, deadline=time.monotonic() + wall_seconds)
    except BaseException:
        _kill(pid)  # the parent's time limit (Celery's), a shutdown
        raise
    finally:
        os.close(read_end)
    if data is None:
        _kill(pid)
        raise LimitExceeded(f"The job ran longer than its limit of {wall_seconds:g} s.")
    status, cpu_used = _reap(pid)
    return _outcome(data, status, cpu_used, memory_mb=memory_mb, cpu_seconds=cpu_seconds)


def _outcome(
    data: bytes, status: int | None, cpu_used: float, *, memory_mb: int, cpu_seconds: int
) -> Any:
    message = json.loads(data) if data else {}
    if "value" in message:
        return message["value"]
    if message.get("limit") == "memory":
        raise LimitExceeded(
            f"The job needed more memory than its limit of {memory_mb} MB "
            "(CONVAPI_JOB_MEMORY_MB) and was stopped."
        )
    if message.get("limit") == "cpu" or cpu_used >= cpu_seconds:
        raise LimitExceeded(
            f"The job used more CPU time than its limit of {cpu_seconds} s "
            "(CONVAPI_JOB_CPU_SECONDS) and was stopped."
        )
    if "crash" in message:
        raise RuntimeError(message["crash"])
    if _killed_by_failed_allocation(status):
        raise LimitExceeded(
            f"The job's process was killed by {_how_it_ended(status)[len('killed by ') :]}, "
            "as native code that does not check its allocations is when it runs into its "
            f"memory limit of {memory_mb} MB (CONVAPI_JOB_MEMORY_MB); it was stopped."
        )
    raise RuntimeError(f"The job's process ended without a result ({_how_it_ended(status)}).")


def _read_until_closed(fd: int, *, deadline: float) -> bytes | None:
    """Everything the child writes; None if it still runs at the deadline."""
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], min(remaining, 60.0))
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def _reap(pid: int) -> tuple[int | None, float]:
    """The child's wait status and the CPU seconds it used."""
    try:
        _, status, usage = os.wait4(pid, 0)
    except ChildProcessError:  # reaped by someone else's SIGCHLD handler
        return None, 0.0
    return status, usage.ru_utime + usage.ru_stime


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


# What a C or C++ library's process dies of when malloc returns NULL under RLIMIT_DATA:
# a NULL dereference (liblinear), a bus error, or abort() from an uncaught std::bad_alloc.
_FAILED_ALLOCATION_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT})


def _killed_by_failed_allocation(status: int | None) -> bool:
    """Whether the child died the way native code dies when an allocation fails; every
    child runs under a memory limit, so that limit is the likely cause."""
    return (
        status is not None
        and os.WIFSIGNALED(status)
        and os.WTERMSIG(status) in _FAILED_ALLOCATION_SIGNALS
    )


def _how_it_ended(status: int | None) -> str:
    if status is None:
        return "status unknown"
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


# --- in the child -------------------------------------------------------------------------


def _child(
    work: Callable[[], Any], write_end: int, *, parent: int, memory_mb: int, cpu_seconds: int
) -> None:
    """Run ``work`` under the limits, write its outcome, and leave without cleaning up:
    ``os._exit`` never returns into the parent's stack (a request, a test, a Celery task)."""
    code = 0
    try:
        _die_with(parent)
        _detach_database_connections()
        _limit(memory_mb=memory_mb, cpu_seconds=cpu_seconds)
        try:
            message = {"value": work()}
        except _CpuTimeSpent:
            message = {"limit": "cpu"}
        except MemoryError:
            message = {"limit": "memory"}
        except Exception as exc:  # noqa: BLE001 - sent to the parent, which records it
            if _out_of_memory(exc):
                message = {"limit": "memory"}
            else:
                logger.exception("A job's work failed in its child process")
                message = {"crash": f"An unexpected error occurred. Error: {exc}"}
        try:
            payload = json.dumps(message)
        except (TypeError, ValueError) as exc:
            payload = json.dumps({"crash": f"The job's outcome is not JSON: {exc}"})
        with os.fdopen(write_end, "wb") as out:
            out.write(payload.encode())
        connections.close_all()  # the child's own connections, opened by the work
    except BaseException:  # noqa: BLE001 - whatever happens, this process ends here
        logger.exception("A job's child process failed")
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _out_of_memory(exc: BaseException) -> bool:
    """Whether the limit caused ``exc``: a MemoryError is often replaced on its way out by
    the clean-up it triggers (a temporary directory's removal failing with ENOMEM)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MemoryError):
            return True
        if isinstance(seen, OSError) and seen.errno == errno.ENOMEM:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _die_with(parent: int) -> None:
    """A parent killed outright (Celery's hard time limit) takes its child along."""
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGQUIT):
        signal.signal(number, signal.SIG_DFL)  # the parent's handlers (gunicorn's, Celery's)
    with contextlib.suppress(OSError, AttributeError):  # Linux only
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)  # the parent died before prctl took effect


def _detach_database_connections() -> None:
    """Fresh connections for the child; the inherited ones are kept but never touched."""
    for alias in connections:
        inherited = connections[alias]
        _inherited_connections.append(inherited)
        connections[alias] = type(inherited)(inherited.settings_dict, alias)


def _limit(*, memory_mb: int, cpu_seconds: int) -> None:
    # RLIMIT_DATA counts private writable memory (heap, anonymous maps: numpy's arrays), not
    # reserved address space or shared libraries; the child starts with the parent's.
    data = _within_hard(resource.RLIMIT_DATA, _data_bytes() + memory_mb * 1024 * 1024)
    resource.setrlimit(resource.RLIMIT_DATA, (data, data))

    def cpu_spent(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGXCPU, signal.SIG_IGN)  # raised once; SIGKILL comes later
        raise _CpuTimeSpent()

    signal.signal(signal.SIGXCPU, cpu_spent)
    hard = _within_hard(resource.RLIMIT_CPU, cpu_seconds + CPU_HARD_MARGIN_SECONDS)
    resource.setrlimit(resource.RLIMIT_CPU, (min(cpu_seconds, hard), hard))


def _within_hard(limit: int, wanted: int) -> int:
    """An unprivileged process may lower its hard limit, never raise it."""
    _, hard = resource.getrlimit(limit)
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


def _data_bytes() -> int:
    """The process's data size as RLIMIT_DATA counts it (VmData)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0
