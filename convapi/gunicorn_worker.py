"""gunicorn's ASGI worker (``GUNICORN_WORKER_CLASS=asgi``): uvicorn serving ``config.asgi``.

uvicorn-worker's ``UvicornWorker``, with two choices of ours: the ASGI app's lifespan is
always run (the socket.io server learns its event loop there), and client addresses are
never rewritten from ``X-Forwarded-For`` by uvicorn (DRF reads that header itself,
``CONVAPI_NUM_PROXIES``, as under gthread workers). Given a WSGI app (``gunicorn
config.wsgi`` with this worker) it stops with a line saying which app to serve.
"""

from __future__ import annotations

import inspect
import sys

from gunicorn.arbiter import Arbiter
from uvicorn_worker import UvicornWorker


class AsgiWorker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "auto", "http": "auto", "lifespan": "on", "proxy_headers": False}

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app = self.wsgi
        if not (
            inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(type(app).__call__)
        ):
            self.log.error(
                "Error: GUNICORN_WORKER_CLASS=asgi serves config.asgi: run gunicorn config.asgi"
            )
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
