"""``manage.py interactive``: teach a running bot by talking to it (Rasa's ``rasa interactive``).

The session is the ``interactive`` package's and speaks only the Rasa HTTP API, so the server
may be convapi or Rasa. This command wires options to it, exports into ``--bot`` (or the
current folder), and with ``--bot`` offers to retrain and load the new model at the end.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from interactive.client import DEFAULT_URL, Client, ServerError
from interactive.export import ExportPaths, export_conversation
from interactive.outcomes import Outcome
from interactive.session import Session
from interactive.terminal import Terminal


class Command(BaseCommand):
    help = "Talk to a running bot, correct it, and save what you taught as training data."
    # A client of a server that may be elsewhere: this process's URLs and models are not used,
    # and checking them would load the whole engine before the first question.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", default=DEFAULT_URL, help=f"the server (default {DEFAULT_URL})"
        )
        auth = parser.add_mutually_exclusive_group()
        auth.add_argument("--token", help="the server's auth token (sent as ?token=)")
        auth.add_argument("--jwt", help="a JWT with role admin (sent as a Bearer header)")
        parser.add_argument("--conversation", help="the conversation id (default: a new one)")
        parser.add_argument("--bot", help="the bot folder to export into and retrain")
        parser.add_argument("--max-messages", type=int, help="stop after this many user turns")
        parser.add_argument("--visualize", action="store_true", help="serve a conversation graph")
        parser.add_argument("--visualize-port", type=int, default=5006, help="its loopback port")

    def handle(self, *args: Any, **options: Any) -> None:
        client = Client(options["url"], token=options["token"], jwt=options["jwt"])
        bot = Path(options["bot"]) if options["bot"] else None
        if bot is not None and not bot.is_dir():
            raise CommandError(f"--bot {bot} is not a folder.")
        terminal = Terminal(say=self.stdout.write)
        graph = _graph_server(options, terminal) if options["visualize"] else None
        try:
            status = client.wait_until_running(attempts=3, delay=1.0)
            terminal.say(f"Connected to {client.url} (model {status.get('model_file')}).")
            session = self._session(client, options, terminal, bot or Path("."), graph)
            session.run()
            if bot is not None and session.exported:
                _offer_retrain(client, bot, terminal)
        except ServerError as exc:
            raise CommandError(str(exc)) from exc
        except (ValueError, OSError) as exc:
            raise CommandError(f"Could not write the training data: {exc}") from exc
        except Outcome:
            terminal.say("Stopped.")
        finally:
            if graph is not None:
                graph.close()

    def _session(self, client, options, terminal, folder: Path, graph) -> Session:
        paths = ExportPaths.for_bot(folder)
        conversation_id = options["conversation"] or uuid.uuid4().hex
        terminal.say(f"Conversation {conversation_id}; training data goes to {folder.resolve()}.")
        return Session(
            client,
            conversation_id,
            terminal,
            max_messages=options["max_messages"],
            exporter=lambda events, domain: export_conversation(events, domain, paths),
            on_step=graph.update if graph is not None else None,
        )


def _graph_server(options: dict[str, Any], terminal: Terminal):
    from interactive.visualize import GraphServer

    try:
        graph = GraphServer(options["visualize_port"])
    except OSError:
        graph = GraphServer(0)  # the usual port is taken: any free one will do
    terminal.say(f"Conversation graph: {graph.url}")
    return graph


def _offer_retrain(client: Client, bot: Path, terminal: Terminal) -> None:
    """Train the exported bot here and load the archive into the server (``PUT /model``)."""
    if not terminal.confirm("Retrain the bot and load the new model into the server?", False):
        return
    from engine.errors import EngineError
    from engine.project import load_project
    from engine.training import train

    try:
        result = train(load_project(bot), output_dir=bot / "models")
    except EngineError as exc:
        terminal.say(f"Training failed: {exc}")
        return
    terminal.say(f"Trained {result.path}.")
    client.load_model(str(result.path.resolve()))
    terminal.say("The server now serves the new model.")
