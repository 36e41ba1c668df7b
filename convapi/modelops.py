"""Model services: load, unload, train, evaluate, predict on posted events.

Engine errors a user causes become 4xx ``ApiError``s here, so views stay thin.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings

from convapi.assistant import Assistant, assistant_from_model, assistant_set
from convapi.errors import ApiError, bad_request, no_model_loaded
from engine.config import config_from_dict, read_yaml
from engine.errors import BotError, EngineError, InvalidDomainError, ModelLoadError
from engine.events import Event
from engine.model import Model, load_model
from engine.nlu_evaluation import cross_validate_nlu, evaluate_nlu
from engine.project import project_from_yaml_document
from engine.story_evaluation import evaluate_stories
from engine.tracker import EventVerbosity, Tracker
from engine.training import train
from engine.training_data.nlu import nlu_data_from_dict, nlu_data_from_rasa_json
from engine.training_data.stories import story_data_from_yaml
from jobs.served import served_model_choose


def active_training_jobs() -> int:
    """Trainings running anywhere (every worker), counted from their Job rows."""
    from jobs.selectors import job_running_trainings

    return job_running_trainings()


def model_directory() -> Path:
    """Where trained archives are kept: CONVAPI_MODEL, or its folder when it names a file."""
    configured = Path(settings.CONVAPI_MODEL)
    return configured.parent if configured.suffix == ".gz" else configured


def model_load_file(path: str) -> Assistant:
    """Load an archive and make it the served model (``PUT /model``)."""
    if not Path(path).is_file():
        raise ApiError(
            400,
            "BadRequest",
            f"Agent with name '{path}' could not be loaded.",
            {"parameter": "model", "in": "query"},
        )
    try:
        assistant = assistant_from_model(load_model(path))
    except ModelLoadError as exc:
        raise ApiError(400, "LoadingError", f"An unexpected error occurred. Error: {exc}") from None
    # Recorded so that every other process switches to it too (convapi/assistant.py).
    assistant_set(assistant, version=served_model_choose(path=str(Path(path).resolve())))
    return assistant


def model_unload() -> None:
    assistant_set(None, version=served_model_choose(path=""))


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
        raise ApiError(
            400, "InvalidDomainError", f"The provided domain is invalid: {exc}"
        ) from None
    except BotError as exc:
        raise ApiError(
            400,
            "BadRequest",
            f"The request body does not contain valid YAML training data: {exc}",
            {"parameter": "", "in": "body"},
        ) from None
    output = output_dir or Path(tempfile.mkdtemp(prefix="convapi-"))
    output.mkdir(parents=True, exist_ok=True)
    try:
        result = train(
            project, output_dir=output, force=force, augmentation=augmentation, progress=progress
        )
    except EngineError as exc:
        raise ApiError(400, "TrainingError", f"Training failed: {exc}") from None
    return result.path


def _yaml_document(text: str) -> dict[str, Any]:
    try:
        document = read_yaml(text, source="request body")
    except BotError as exc:
        raise ApiError(400, "BadRequest", str(exc), {"parameter": "", "in": "body"}) from None
    if not isinstance(document, dict):
        raise bad_request("The request body must be a YAML mapping.", parameter="")
    return document


def _evaluation_model(model_path: str | None, assistant: Assistant | None) -> Model:
    if model_path:
        try:
            return load_model(model_path)
        except ModelLoadError as exc:
            raise ApiError(400, "TestingError", f"Could not load the model: {exc}") from None
    if assistant is None or assistant.model is None:
        raise ApiError(409, "Conflict", "Loaded model file not found.")
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
                raise ApiError(400, "TestingError", "Cross-validation needs a YAML body.")
            data = nlu_data_from_rasa_json(_json_document(text))
        if folds:
            config = config_from_dict({k: v for k, v in document.items() if k in _CONFIG_KEYS})
            return cross_validate_nlu(config.pipeline, data, folds, language=config.language)
        model = _evaluation_model(model_path, assistant)
        if model.nlu is None:
            raise ApiError(400, "TestingError", "The model has no NLU pipeline to evaluate.")
        return evaluate_nlu(model.nlu, data)
    except (BotError, ValueError) as exc:
        raise ApiError(400, "TestingError", f"Could not evaluate the NLU data: {exc}") from None


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
        raise ApiError(400, "TestingError", "The loaded model has no dialogue policies.")
    try:
        stories = story_data_from_yaml(text, source="test_data.yml")
        return evaluate_stories(
            stories, ensemble=model.policies, domain=model.domain, parse=model.parse, e2e=e2e
        )
    except BotError as exc:
        raise ApiError(400, "TestingError", f"Could not read the test stories: {exc}") from None


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


def require_model(assistant: Assistant) -> Model:
    if assistant.model is None:
        raise no_model_loaded()
    return assistant.model
