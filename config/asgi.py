"""ASGI entry point: ``gunicorn config.asgi`` with ``GUNICORN_WORKER_CLASS=asgi``.

One port serves everything, as Rasa does: the socket.io channel at its ``socketio_path``
when ``credentials.yml`` enables it (``convapi/socketio_channel.py``), and the API, the
admin and the other channels: Django's WSGI app, run by a pool of ``GUNICORN_THREADS``
threads per worker (``a2wsgi``). Django's own ASGI handler would run every sync view on
one thread per process, one turn at a time. socket.io turns run on the same pool, so the
database connections per worker stay at most ``GUNICORN_THREADS``.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from a2wsgi import WSGIMiddleware  # noqa: E402

from config.wsgi import application as wsgi_application  # noqa: E402
from convapi.credentials import configured_credentials  # noqa: E402
from convapi.gunicorn_settings import pool_threads  # noqa: E402
from convapi.socketio_channel import SocketIOChannel, with_socketio  # noqa: E402

django_application = WSGIMiddleware(wsgi_application, workers=pool_threads())
_channel = configured_credentials().socketio

application = (
    django_application
    if _channel is None
    else with_socketio(
        django_application, SocketIOChannel(_channel, executor=django_application.executor)
    )
)
