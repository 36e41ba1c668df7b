"""``manage.py visualize --bot DIR [--out FILE]``: Rasa's ``rasa visualize``.

Writes the graph of the bot's stories and rules (``engine.story_graph``) to ``graph.html``
in the current directory, as Rasa does, or to ``--out``: a file ending in ``.svg`` gets the
bare SVG, any other a standalone HTML page holding it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engine.bot_files import read_bot_files
from engine.errors import EngineError
from engine.story_graph import build_story_graph, story_graph_html, story_graph_svg


class Command(BaseCommand):
    help = "Draw a bot's stories and rules as a graph (like `rasa visualize`)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bot", required=True, help="the bot directory")
        parser.add_argument(
            "--out", default="graph.html", help="the file to write: .html (default) or .svg"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        try:
            # Read leniently: a bot `validate` would fault can still be drawn.
            bot = read_bot_files(options["bot"])
        except EngineError as exc:
            raise CommandError(str(exc)) from exc
        graph = build_story_graph(bot.stories)
        if out.suffix.lower() == ".svg":
            text = story_graph_svg(graph)
        else:
            text = story_graph_html(graph, title=f"Stories of {bot.root.resolve().name}")
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc}") from exc
        self.stdout.write(f"Finished graph creation. Saved into {out.resolve()}")
