"""A private PgBouncer in transaction-pooling mode in front of the local PostgreSQL.

For the tests and benchmarks that show convapi holds no session state between
transactions: many gunicorn threads share a few server connections. Debian's
``pgbouncer`` runs as the ``postgres`` user (it refuses root), from a folder of its own.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PGBOUNCER = "/usr/sbin/pgbouncer"


@dataclass
class Bouncer:
    process: subprocess.Popen
    port: int
    folder: Path

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_pgbouncer(*, pool_size: int, max_clients: int = 500) -> Bouncer:
    """PgBouncer on a free loopback port, every database of 127.0.0.1:5432 behind it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="convapi-pgbouncer-"))
    (folder / "users.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        "* = host=127.0.0.1 port=5432\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\n"
        f"unix_socket_dir = {folder}\n"
        "auth_type = trust\n"
        f"auth_file = {folder / 'users.txt'}\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {pool_size}\nmax_client_conn = {max_clients}\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        "admin_users = postgres\n"
    )
    command = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        shutil.chown(folder, user="postgres")
        for path in folder.iterdir():
            shutil.chown(path, user="postgres")
        command = [PGBOUNCER, "-u", "postgres", str(folder / "pgbouncer.ini")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer stopped: {process.stderr.read().decode()[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return Bouncer(process, port, folder)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("pgbouncer did not start")
