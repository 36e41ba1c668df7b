"""``manage.py evaluate --bot DIR --stories [FILE] | --nlu [FILE]``: Rasa's ``rasa test``.

Story evaluation replays test stories (default: the bot's ``tests/``) against a model and writes
``failed_test_stories.yml`` like Rasa; NLU evaluation scores a model (or, with
``--cross-validation``, freshly trained pipelines per fold) on labelled NLU data. The reports
are the dicts the HTTP endpoints return (API.md 4.12, 4.13), also written as JSON to ``--out``
(``results/`` by default, which git ignores), with the figures ``rasa test`` draws as PNG
(``engine/reports.py``; matplotlib is the optional extra requirements-reports.txt).

The model is ``--model``, else the newest archive of ``--models-dir`` (the one ``serve``
would serve), else one trained for this evaluation in a temporary folder: evaluating never
writes into the models folder.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from engine.errors import EngineError
from engine.model import Model, load_model
from engine.nlu_evaluation import confusion_matrix, cross_validate_nlu, evaluate_nlu
from engine.project import Project, load_project
from engine.reports import FiguresUnavailable, report_figures
from engine.story_evaluation import run_story_evaluation
from engine.training import newest_archive, train
from engine.training_data.nlu import NLUTrainingData, load_nlu_files
from engine.training_data.stories import load_story_files

_ALL = "__all__"  # --stories / --nlu given without a file


class Command(BaseCommand):
    help = "Evaluate a bot's test stories or NLU data (like `rasa test`)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bot", required=True, help="the bot directory")
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--stories", nargs="?", const=_ALL, help="test stories (default tests/)")
        what.add_argument("--nlu", nargs="?", const=_ALL, help="NLU data (default the bot's data/)")
        parser.add_argument("--cross-validation", action="store_true", help="k-fold NLU test")
        parser.add_argument("--folds", type=int, default=5, help="folds for --cross-validation")
        parser.add_argument(
            "--model", help="model archive (default: the newest in --models-dir, else trained)"
        )
        parser.add_argument("--models-dir", default="models", help="where served models are")
        parser.add_argument("--out", default="results", help="where reports go")

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        try:
            project = load_project(options["bot"])
            if options["stories"]:
                self._stories(project, options, out)
            elif options["cross_validation"]:
                self._cross_validate(project, options, out)
            else:
                self._nlu(project, options, out)
        except (EngineError, ValueError) as exc:
            raise CommandError(str(exc)) from exc

    # --- stories ---------------------------------------------------------------------------

    def _stories(self, project: Project, options: dict[str, Any], out: Path) -> None:
        files = project.test_files if options["stories"] == _ALL else [Path(options["stories"])]
        if not files:
            raise CommandError(f"the bot has no test stories in {project.root / 'tests'}")
        test_stories = load_story_files(files)
        model = self._model(project, options)
        if not model.has_core:
            raise CommandError("the model has no dialogue policies (it is NLU-only)")
        evaluation = run_story_evaluation(
            test_stories, ensemble=model.policies, domain=model.domain, parse=model.parse
        )
        out.mkdir(parents=True, exist_ok=True)
        (out / "failed_test_stories.yml").write_text(evaluation.failed_stories_yaml, "utf-8")
        (out / "successful_test_stories.yml").write_text(
            evaluation.successful_stories_yaml, "utf-8"
        )
        _write_json(out / "story_report.json", evaluation.result["report"])
        self._write_figures(evaluation.result, out)
        self._print_report("Action", evaluation.result["report"])
        result = evaluation.result
        conversations = result["report"].get("conversation_accuracy", {})
        correct, total = conversations.get("correct", 0), conversations.get("total", 0)
        self.stdout.write(
            f"precision {result['precision']:.3f}  f1 {result['f1']:.3f}  "
            f"accuracy {result['accuracy']:.3f}  stories correct {correct}/{total}"
        )
        if correct < total:
            failed_file = out / "failed_test_stories.yml"
            self.stdout.write(f"{total - correct} failed stories written to {failed_file}")
        else:
            self.stdout.write(f"No test story failed; reports written to {out}")

    # --- NLU -------------------------------------------------------------------------------

    def _nlu_data(self, project: Project, options: dict[str, Any]) -> NLUTrainingData:
        if options["nlu"] == _ALL:
            return project.nlu
        return load_nlu_files([Path(options["nlu"])])

    def _nlu(self, project: Project, options: dict[str, Any], out: Path) -> None:
        data = self._nlu_data(project, options)
        model = self._model(project, options)
        if model.nlu is None:
            raise CommandError("the model has no NLU pipeline (it is Core-only)")
        result = evaluate_nlu(model.nlu, data)
        self._write_nlu(result, out)
        intents = result["intent_evaluation"]
        _write_json(out / "intent_confusion_matrix.json", confusion_matrix(intents))
        self._write_figures(result, out)
        self._print_report("Intent", intents["report"])
        self._print_summary(result)

    def _cross_validate(self, project: Project, options: dict[str, Any], out: Path) -> None:
        data = self._nlu_data(project, options)
        folds = options["folds"]
        self.stdout.write(f"Cross-validating the NLU pipeline over {folds} folds...")
        config = project.config
        result = cross_validate_nlu(config.pipeline, data, folds, config.language)
        self._write_nlu(result, out)
        self._print_summary(result)

    def _write_nlu(self, result: dict[str, Any], out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        _write_json(out / "intent_report.json", result["intent_evaluation"]["report"])
        _write_json(out / "intent_errors.json", result["intent_evaluation"]["errors"])
        for extractor, evaluation in result["entity_evaluation"].items():
            _write_json(out / f"{extractor}_report.json", evaluation["report"])
        responses = result["response_selection_evaluation"]
        _write_json(out / "response_selection_report.json", responses["report"])
        self.stdout.write(f"Reports written to {out}")

    def _write_figures(self, result: dict[str, Any], out: Path) -> None:
        """Rasa's PNGs next to the JSON; without matplotlib the JSON stands and we say why."""
        try:
            figures = report_figures(result)
        except FiguresUnavailable as exc:
            self.stderr.write(str(exc))
            return
        for name, png in figures.items():
            (out / name).write_bytes(png)
        if figures:
            self.stdout.write(f"Figures drawn: {', '.join(str(out / name) for name in figures)}")

    def _print_summary(self, result: dict[str, Any]) -> None:
        sections = [("intents", result["intent_evaluation"])]
        sections += [(f"entities ({name})", e) for name, e in result["entity_evaluation"].items()]
        for label, evaluation in sections:
            self.stdout.write(
                f"{label}: precision {evaluation['precision']:.3f}  "
                f"f1 {evaluation['f1_score']:.3f}  accuracy {evaluation['accuracy']:.3f}  "
                f"errors {len(evaluation['errors'])}"
            )

    # --- shared ----------------------------------------------------------------------------

    def _model(self, project: Project, options: dict[str, Any]) -> Model:
        """The given archive, the served one, or one trained for this evaluation only."""
        path = options["model"] or newest_archive(options["models_dir"])
        if path is not None:
            self.stdout.write(f"Evaluating model {path}")
            return load_model(path)
        with tempfile.TemporaryDirectory(prefix="convapi-evaluate-") as folder:
            result = train(project, output_dir=Path(folder))
            self.stdout.write(
                f"No model in {options['models_dir']}: trained one for this evaluation (not kept)"
            )
            return load_model(result.path)

    def _print_report(self, label: str, report: dict[str, Any]) -> None:
        self.stdout.write(f"{label:<32} precision  recall  f1-score  support")
        for name, row in report.items():
            if not isinstance(row, dict) or "f1-score" not in row:
                continue
            self.stdout.write(
                f"{name[:32]:<32} {row['precision']:>9.3f} {row['recall']:>7.3f} "
                f"{row['f1-score']:>9.3f} {int(row['support']):>8d}"
            )


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), "utf-8")
