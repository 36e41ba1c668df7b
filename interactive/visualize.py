"""``--visualize``: the conversation so far as a graph of intents and actions, on a loopback port.

The session calls ``update(events)`` after each step; the page polls ``/graph.svg`` so the
picture follows without a reload. Only 127.0.0.1 is bound: this is the author's own view.
"""

from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from interactive.events import intent_name

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Interactive learning</title>
<style>body{font-family:sans-serif;margin:2em}</style></head>
<body><h1>Conversation so far</h1><div id="graph">%s</div>
<script>
setInterval(async () => {
  const r = await fetch("graph.svg", {cache: "no-store"});
  if (r.ok) document.getElementById("graph").innerHTML = await r.text();
}, 1500);
</script></body></html>
"""
NODE_W, NODE_H, GAP = 260, 34, 22
SKIPPED = {"action_listen", "action_session_start"}


def graph_nodes(events: list[dict]) -> list[tuple[str, str]]:
    """(kind, label) for each step, starting with START: intents and actions in order."""
    nodes = [("start", "START")]
    for event in events:
        if event.get("event") == "user" and intent_name(event):
            nodes.append(("intent", str(intent_name(event))))
        elif event.get("event") == "action" and event.get("name") not in SKIPPED:
            nodes.append(("action", str(event.get("name") or event.get("action_text"))))
    return nodes


def graph_svg(events: list[dict]) -> str:
    """A vertical chain of boxes: intents blue, actions grey, joined by arrows."""
    nodes = graph_nodes(events)
    height = len(nodes) * (NODE_H + GAP) + GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{NODE_W + 40}" height="{height}">',
        '<defs><marker id="a" markerWidth="8" markerHeight="8" refX="4" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z"/></marker></defs>',
    ]
    colours = {"start": "#ffd27f", "intent": "#bcd7ff", "action": "#e6e6e6"}
    for index, (kind, label) in enumerate(nodes):
        y = GAP + index * (NODE_H + GAP)
        if index:
            parts.append(
                f'<line x1="{20 + NODE_W // 2}" y1="{y - GAP}" x2="{20 + NODE_W // 2}" '
                f'y2="{y - 4}" stroke="black" marker-end="url(#a)"/>'
            )
        parts.append(
            f'<rect class="{kind}" x="20" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6" '
            f'fill="{colours[kind]}" stroke="#555"/>'
            f'<text x="{20 + NODE_W // 2}" y="{y + 22}" text-anchor="middle">'
            f"{html.escape(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


class GraphServer:
    """A tiny HTTP server in a daemon thread; ``port=0`` picks a free port."""

    def __init__(self, port: int = 0) -> None:
        self._svg = graph_svg([])
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                if self.path.split("?")[0] == "/graph.svg":
                    self._send(server._svg, "image/svg+xml")
                elif self.path.split("?")[0] == "/":
                    self._send(PAGE % server._svg, "text/html; charset=utf-8")
                else:
                    self.send_error(404)

            def _send(self, body: str, content_type: str) -> None:
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass  # the terminal belongs to the session

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def update(self, events: list[dict]) -> None:
        self._svg = graph_svg(events)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
