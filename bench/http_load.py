"""Closed-loop HTTP load from one thread: many clients, each on a keep-alive connection.

The benchmarks run the server, its database and the load on the same two cores, so what
the load itself costs is taken from the server. A thread per client through ``requests``
costs about 1.5 ms of CPU a request (and its threads queue for the GIL, which the measured
latency then includes); these clients are coroutines speaking plain HTTP/1.1 over
asyncio streams, at about a tenth of that. Each client sends a request, waits for the whole
answer, and sends the next, until the deadline.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


class Connection:
    """One keep-alive connection; it is opened again after an error or a ``close``."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, target: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"POST {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status = int((await self.reader.readline()).split(b" ", 2)[1])
        headers: dict[bytes, bytes] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            answer = await self._chunks()
        elif b"content-length" in headers:
            answer = await self.reader.readexactly(int(headers[b"content-length"]))
        else:
            answer = await self.reader.read()
            headers[b"connection"] = b"close"
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, answer

    async def _chunks(self) -> bytes:
        parts = []
        while size := int((await self.reader.readline()).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()
        while await self.reader.readline() not in (b"\r\n", b""):
            pass  # trailers
        return b"".join(parts)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def closed_loop(
    url: str,
    clients: int,
    duration: float,
    body: Callable[[int], dict],
    accept: Callable[[int, bytes], bool],
    timeout: float = 60,
) -> Load:
    """``clients`` clients POST ``body(client)`` as JSON to ``url`` for ``duration``
    seconds; an answer counts when ``accept(status, body)``, else (or on a failure or
    after ``timeout``) it is an error."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    load = Load()

    async def client(index: int, deadline: float) -> None:
        connection = Connection(parts.hostname or "127.0.0.1", parts.port or 80)
        payload = json.dumps(body(index)).encode()
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                status, answer = await asyncio.wait_for(connection.post(target, payload), timeout)
                ok = accept(status, answer)
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError, TimeoutError):
                connection.close()
                ok = False
            if ok:
                load.latencies.append(time.perf_counter() - started)
            else:
                load.errors += 1
        connection.close()

    async def main() -> None:
        deadline = time.monotonic() + duration
        await asyncio.gather(*(client(index, deadline) for index in range(clients)))

    asyncio.run(main())
    return load
