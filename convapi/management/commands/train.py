"""``manage.py train --bot DIR``: train a Rasa bot directory into a model archive.

The work is the engine's (``engine.training.train``); this command only parses options,
shows progress and turns engine errors into a one-line message and a non-zero exit.
With ``--store`` the archive also goes into the model store (serving/archives.py), where
every host can load it (``PUT /model {"model_file": "<its name or sha256>"}``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engine.errors import EngineError, ServiceError
from engine.project import load_project
from engine.training import TrainingResult, train
from serving.services import model_store_file


class Command(BaseCommand):
    help = "Train a Rasa bot directory (config.yml, domain, data/) into a model archive."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bot", required=True, help="the bot directory")
        parser.add_argument("--out", default="models", help="where archives go (default models/)")
        parser.add_argument("--force", action="store_true", help="train even if nothing changed")
        parser.add_argument("--augmentation", type=int, default=50, help="story augmentation")
        parser.add_argument("--seed", type=int, default=42, help="random seed")
        parser.add_argument(
            "--store",
            action="store_true",
            help="also put the archive in the model store (GET /models), for every host",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        display = _ProgressDisplay(self.stdout.write)
        try:
            project = load_project(options["bot"])
            for warning in project.warnings:
                self.stderr.write(f"warning: {warning}")
            result = train(
                project,
                output_dir=Path(options["out"]),
                force=options["force"],
                augmentation=options["augmentation"],
                seed=options["seed"],
                progress=display,
            )
        except EngineError as exc:
            raise CommandError(str(exc)) from exc
        # Substituted components (spaCy missing...) were already logged once by the pipeline.
        if result.skipped:
            self.stdout.write("Nothing changed since the last training; use --force to retrain.")
        else:
            self.stdout.write(f"Trained a {result.training_type} model in {result.seconds:.1f} s.")
        self.stdout.write(str(result.path))
        if options["store"]:
            self._store(result)

    def _store(self, result: TrainingResult) -> None:
        metadata = {"model_id": result.model_id, "fingerprint": result.fingerprint}
        try:
            archive = model_store_file(path=result.path, name=result.path.name, metadata=metadata)
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"In the model store as {archive.sha256}")


class _ProgressDisplay:
    """One line per component or policy as it starts, with the overall progress."""

    def __init__(self, write: Any) -> None:
        self.write = write
        self.name: str | None = None

    def __call__(self, name: str, overall: float) -> None:
        if name != self.name:
            self.name = name
            self.write(f"[{overall:4.0%}] {name}")
