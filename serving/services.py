"""Model services: load, unload, train, evaluate, list archives, predict on posted events.

Engine errors a user causes become 4xx ``ServiceError``s here, so views stay thin.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from engine.archive import read_archive_metadata
from engine.config import config_from_dict, read_yaml
from engine.errors import (
    BotError,
    EngineError,
    InvalidDomainError,
    ModelLoadError,
    bad_request,
    conflict,
    invalid_domain,
    loading_failed,
    model_not_loadable,
    testing_failed,
    training_failed,
)
from engine.events import Event
from engine.model import Model, load_model
from engine.nlu_evaluation import cross_validate_nlu, evaluate_nlu
from engine.project import project_from_yaml_document
from engine.story_evaluation import evaluate_stories
from engine.tracker import EventVerbosity, Tracker
from engine.training import train
from engine.training_data.nlu import nlu_data_from_dict, nlu_data_from_rasa_json
from engine.training_data.stories import story_data_from_yaml
from serving.holder import Assistant, assistant_from_model, assistant_set
from serving.served import served_model_choose

ARCHIVE_SUFFIX = ".tar.gz"


def model_directory() -> Path:
    """Where trained archives are kept: CONVAPI_MODEL, or its folder when it names a file."""
    configured = Path(settings.CONVAPI_MODEL)
    return configured.parent if configured.suffix == ".gz" else configured


def model_load_file(path: str) -> Assistant:
    """Load an archive and make it the served model (``PUT /model``)."""
    if not Path(path).is_file():
        raise model_not_loadable(path)
    try:
        assistant = assistant_from_model(load_model(path))
    except ModelLoadError as exc:
        raise loading_failed(exc) from None
    # Recorded so that every other process switches to it too (serving/holder.py).
    assistant_set(assistant, choice=served_model_choose(path=str(Path(path).resolve())))
    return assistant


def model_unload() -> None:
    assistant_set(None, choice=served_model_choose(path=""))


def model_train(
    *,
    document: str,
    output_dir: Path | None,
    force: bool,
    augmentation: int,
    progress: Callable[[str, float], None] | None = None,
) -> Path:
    """Train the single YAML training document into ``output_dir`` (None: a temp folder).

    Returns the archive's path; the model is not loaded.
    """
    try:
        project = project_from_yaml_document(document)
    except InvalidDomainError as exc:
        raise invalid_domain(exc) from None
    except BotError as exc:
        raise bad_request(
            f"The request body does not contain valid YAML training data: {exc}", parameter=""
        ) from None
    output = output_dir or Path(tempfile.mkdtemp(prefix="convapi-"))
    output.mkdir(parents=True, exist_ok=True)
    try:
        result = train(
            project, output_dir=output, force=force, augmentation=augmentation, progress=progress
        )
    except EngineError as exc:
        raise training_failed(f"Training failed: {exc}") from None
    return result.path


def _yaml_document(text: str) -> dict[str, Any]:
    try:
        document = read_yaml(text, source="request body")
    except BotError as exc:
        raise bad_request(str(exc), parameter="") from None
    if not isinstance(document, dict):
        raise bad_request("The request body must be a YAML mapping.", parameter="")
    return document


def _evaluation_model(model_path: str | None, assistant: Assistant | None) -> Model:
    if model_path:
        try:
            return load_model(model_path)
        except ModelLoadError as exc:
            raise testing_failed(f"Could not load the model: {exc}") from None
    if assistant is None or assistant.model is None:
        raise conflict("Loaded model file not found.")
    return assistant.model


def nlu_test(
    *,
    text: str,
    is_yaml: bool,
    model_path: str | None,
    folds: int | None,
    assistant: Assistant | None,
) -> dict[str, Any]:
    """``POST /model/test/intents``: evaluate, or cross-validate the posted pipeline."""
    try:
        if is_yaml:
            document = _yaml_document(text)
            data = nlu_data_from_dict(document, source="request body")
        else:
            if folds:
                raise testing_failed("Cross-validation needs a YAML body.")
            data = nlu_data_from_rasa_json(_json_document(text))
        if folds:
            config = config_from_dict({k: v for k, v in document.items() if k in _CONFIG_KEYS})
            return cross_validate_nlu(config.pipeline, data, folds, language=config.language)
        model = _evaluation_model(model_path, assistant)
        if model.nlu is None:
            raise testing_failed("The model has no NLU pipeline to evaluate.")
        return evaluate_nlu(model.nlu, data)
    except (BotError, ValueError) as exc:
        raise testing_failed(f"Could not evaluate the NLU data: {exc}") from None


_CONFIG_KEYS = ("recipe", "language", "pipeline", "policies", "assistant_id")


def _json_document(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}", parameter="") from None


def stories_test(*, text: str, e2e: bool, assistant: Assistant) -> dict[str, Any]:
    """``POST /model/test/stories`` against the served model."""
    model = assistant.model
    if model is None or model.policies is None:
        raise testing_failed("The loaded model has no dialogue policies.")
    try:
        stories = story_data_from_yaml(text, source="test_data.yml")
        return evaluate_stories(
            stories, ensemble=model.policies, domain=model.domain, parse=model.parse, e2e=e2e
        )
    except BotError as exc:
        raise testing_failed(f"Could not read the test stories: {exc}") from None


def predict_on_events(
    *, events: Sequence[Event], verbosity: EventVerbosity, assistant: Assistant
) -> dict[str, Any] | None:
    """``POST /model/predict``: predict on a throw-away tracker; nothing is stored."""
    domain = assistant.domain
    tracker = Tracker.from_events("default", events, domain.slot_defaults())
    prediction = assistant.model.predict(tracker) if assistant.model else None
    if prediction is None:
        return None
    actions = domain.action_names_or_texts
    return {
        "scores": [
            {"action": name, "score": score}
            for name, score in zip(actions, prediction.probabilities, strict=False)
        ],
        "policy": prediction.policy_name,
        "confidence": prediction.confidence,
        "tracker": tracker.current_state(verbosity),
    }


def models_list(*, directory: Path, loaded_file: str | None) -> list[dict[str, Any]]:
    """The archives in the model directory, newest first, with the one being served."""
    if not directory.is_dir():
        return []
    archives = [p for p in directory.iterdir() if p.name.endswith(ARCHIVE_SUFFIX) and p.is_file()]
    archives.sort(key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    return [_model_entry(path, loaded_file) for path in archives]


def _model_entry(path: Path, loaded_file: str | None) -> dict[str, Any]:
    stat = path.stat()
    try:
        model_id = read_archive_metadata(path).get("model_id")
    except ModelLoadError:
        model_id = None  # listed anyway: the admin should see a broken archive
    return {
        "name": path.name,
        "model_id": model_id,
        "created": datetime.fromtimestamp(stat.st_mtime, tz=UTC).isoformat(),
        "size": stat.st_size,
        "loaded": path.name == loaded_file,
    }
