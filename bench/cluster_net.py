"""The machine's side of the two-host cluster (``bench/cluster.py``): network namespaces,
the bridge, the processes the run started, and reaching loopback services from a host.

Nothing here changes the system's configuration: the namespaces, veths and bridge are the
run's own and are deleted with it; no IP forwarding, firewall rule or sysctl is touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# Every process the run starts carries this in its environment, so that the clean-up ends
# exactly those (and those of a crashed earlier run), whatever their pids.
MARKER = "CONVAPI_CLUSTER_MEMBER"
LOOPBACK = {"127.0.0.1", "localhost"}
NETWORK = "10.213.13"
BRIDGE = "cvbr0"
HOST_PORT = 8080
HOSTS = {"a": f"{NETWORK}.2", "b": f"{NETWORK}.3"}


class Skip(Exception):
    """The machine cannot run the cluster (no permission for network namespaces)."""


def program(name: str) -> str:
    """``name``'s full path; root's tools (ip, haproxy) live in sbin, not always on PATH."""
    path = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin"
    found = shutil.which(name, path=path)
    if found is None:
        raise RuntimeError(f"'{name}' is not installed (see the apt-get line of .ci/run)")
    return found


def netns_pids(netns: str) -> list[int]:
    found = subprocess.run([program("ip"), "netns", "pids", netns], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def alive(pid: int) -> bool:
    """True while any thread of ``pid`` runs. A gthread worker's main thread can be a zombie
    while its other threads still exit, holding the listening socket open a moment longer."""
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False
    for thread in threads:
        with contextlib.suppress(OSError):
            if (thread / "stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX":
                return True
    return False


def refused(address: str, port: int) -> bool:
    """True when nothing listens on ``address:port`` any more."""
    try:
        socket.create_connection((address, port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


def members() -> list[int]:
    """Every process this script started (any run), by the marker in its environment."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"{MARKER}=".encode() in environ and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def stop_members() -> None:
    """SIGTERM the members, give them 10 s to exit, SIGKILL whoever is left."""
    for sig, patience in ((signal.SIGTERM, 200), (signal.SIGKILL, 100)):
        for pid in members():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        for _ in range(patience):
            if not members():
                return
            time.sleep(0.05)


# -- the network --------------------------------------------------------------------------
def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([program("ip"), *args], capture_output=True, text=True, check=check)


def probe_namespaces() -> None:
    """Raise Skip when this process may not create network namespaces (not root, a sandbox)."""
    probe = f"convapi-probe-{os.getpid()}"
    made = _ip("netns", "add", probe, check=False)
    _ip("netns", "del", probe, check=False)
    if made.returncode != 0:
        raise Skip(f"'ip netns add' is not permitted here: {made.stderr.strip()}")


def network_up() -> None:
    """The bridge on NETWORK.1 and one namespace per host, each with its veth on the bridge."""
    _ip("link", "add", BRIDGE, "type", "bridge")
    _ip("addr", "add", f"{NETWORK}.1/24", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")
    for host, address in HOSTS.items():
        netns, inside, outside = f"convapi-{host}", f"cv-{host}", f"cv-{host}-br"
        _ip("netns", "add", netns)
        _ip("link", "add", inside, "type", "veth", "peer", "name", outside)
        _ip("link", "set", inside, "netns", netns)
        _ip("link", "set", outside, "master", BRIDGE, "up")
        _ip("-n", netns, "addr", "add", f"{address}/24", "dev", inside)
        _ip("-n", netns, "link", "set", inside, "up")
        _ip("-n", netns, "link", "set", "lo", "up")


def network_down() -> None:
    """Delete the namespaces (their veths, and so the peers, go with them) and the bridge."""
    for host in HOSTS:
        for pid in netns_pids(f"convapi-{host}"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _ip("netns", "del", f"convapi-{host}", check=False)
        _ip("link", "del", f"cv-{host}-br", check=False)
    _ip("link", "del", BRIDGE, check=False)


# -- services the hosts reach through the bridge ------------------------------------------
def via_bridge(url: str) -> tuple[str, int | None]:
    """``url`` with a loopback host replaced by the bridge address, and the port to forward."""
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        return url, None
    port = parts.port or {"redis": 6379, "rediss": 6379}.get(parts.scheme, 5432)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    netloc = f"{credentials}{NETWORK}.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc)), port


def wait_for_port(address: str, port: int) -> None:
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {address}:{port}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
