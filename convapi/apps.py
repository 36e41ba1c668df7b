import functools

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured

from engine.errors import ConfigError

# The job row that records one bot message POSTed to the callback channel's URL.
CHANNEL_MESSAGE = "channel_message"


class ConvapiConfig(AppConfig):
    name = "convapi"
    verbose_name = "convapi"

    def ready(self) -> None:
        from convapi.credentials import channel_open, configured_credentials
        from trackers.outputs import output_channel_register

        # A bad credentials.yml stops the server at start, naming the file and the key;
        # channels it names that convapi does not serve are warned about once, here.
        try:
            configured_credentials()
        except ConfigError as exc:
            raise ImproperlyConfigured(str(exc)) from None
        # Rasa's callback output collects what it sends: pushed and answered both.
        output_channel_register(
            "callback",
            callback_messages_post,
            is_open=functools.partial(channel_open, "callback"),
            answers_too=True,
        )
        # socket.io pushes reach the socket wherever it is connected (through Redis).
        from convapi.socketio_output import SOCKETIO_CHANNEL, socketio_deliver

        output_channel_register(
            SOCKETIO_CHANNEL,
            socketio_deliver,
            is_open=functools.partial(channel_open, SOCKETIO_CHANNEL),
        )


def callback_messages_post(sender_id: str, messages: list[dict]) -> None:
    """The callback channel's output: each message POSTed to the channel's URL, as a job's
    callback is (a row each, its attempts logged, retried)."""
    from convapi.credentials import configured_credentials
    from jobs.services import deliveries_submit

    callback = configured_credentials().callback
    if callback is None:
        raise RuntimeError("The callback channel is not enabled in credentials.yml.")
    deliveries_submit(kind=CHANNEL_MESSAGE, results=messages, callback_url=callback.url)
