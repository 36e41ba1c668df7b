"""A real rasa-sdk action server in a process of its own, for the tests and the benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests


def start_rasa_sdk(*, actions: str, port: int, cwd: Path) -> subprocess.Popen:
    """``python -m rasa_sdk`` serving the module ``actions`` (importable from ``cwd``) on
    loopback, in its own process group; returned once it answers its health check."""
    process = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", actions, "--port", str(port),
         "--cors", "*"],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(cwd)}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                return process
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the rasa-sdk action server did not start")
