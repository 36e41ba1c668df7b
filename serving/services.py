"""Model services: load, unload, train, evaluate, list archives, predict on posted events.

Engine errors a user causes become 4xx ``ServiceError``s here, so views stay thin.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

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
    model_store_unavailable,
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
from engine.yaml_bounds import YamlTooLarge, yaml_bounds_check
from serving.archives import (
    ModelStoreUnavailable,
    archive_fetch,
    archive_find,
    archive_get,
    archive_newest,
    archive_put,
    archives_newest_first,
)
from serving.holder import Assistant, assistant_from_archive, assistant_from_model, assistant_set
from serving.models import ModelArchive
from serving.served import served_model_choose, served_model_get


def model_load_file(reference: str) -> Assistant:
    """``PUT /model {"model_file": ...}``: a local archive, or a stored one by hash or name.

    A name lets a client load what ``POST /model/train`` answered, on any host.
    """
    path = _local_file(reference)
    if path is not None:
        return model_serve_file(path=path, name=path.name)
    archive = archive_find(reference)
    if archive is None:
        raise model_not_loadable(reference)
    try:
        assistant = assistant_from_archive(archive)
    except ModelLoadError as exc:
        raise loading_failed(exc) from None
    except ModelStoreUnavailable as exc:
        raise model_store_unavailable(exc) from None
    return _serve(assistant, archive)


def _local_file(reference: str) -> Path | None:
    try:
        path = Path(reference)
        return path if path.is_file() else None
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return None


def _archive_on_this_host(reference: str) -> Path:
    """A local archive, else a stored one (by hash or name) fetched into this host's cache.

    A test job may run on another host than the request that named the archive.
    """
    path = _local_file(reference)
    if path is not None:
        return path
    archive = archive_find(reference)
    if archive is None:
        raise ModelLoadError(f"no model archive '{reference}' here or in the model store")
    return archive_fetch(archive)


def model_serve_file(*, path: Path, name: str) -> Assistant:
    """Check that the archive at ``path`` loads, store it, and serve it everywhere."""
    try:
        model = load_model(path)
    except ModelLoadError as exc:
        raise loading_failed(exc) from None
    archive = model_store_file(path=path, name=name, metadata=model.metadata)
    return _serve(replace(assistant_from_model(model), file_name=archive.name), archive)


def _serve(assistant: Assistant, archive: ModelArchive) -> Assistant:
    # Recorded so that every other process switches to it too (serving/holder.py).
    assistant_set(assistant, choice=served_model_choose(sha256=archive.sha256))
    return assistant


def model_store_file(*, path: Path, name: str, metadata: dict[str, Any]) -> ModelArchive:
    """Put an archive in the store (serving/archives.py); a storage outage is a 503."""
    try:
        return archive_put(path=path, name=name, metadata=metadata)
    except ModelStoreUnavailable as exc:
        raise model_store_unavailable(exc) from None


def model_archive_file(*, sha256: str) -> Path:
    """A stored archive on this host's disk (its file name is the archive's), e.g. to send it."""
    archive = archive_get(sha256)
    if archive is None:
        raise model_not_loadable(sha256)
    try:
        return archive_fetch(archive)
    except ModelLoadError as exc:
        raise loading_failed(exc) from None
    except ModelStoreUnavailable as exc:
        raise model_store_unavailable(exc) from None


def model_unload() -> None:
    assistant_set(None, choice=served_model_choose(sha256=None))


def model_train(
    *,
    document: str,
    force: bool,
    augmentation: int,
    progress: Callable[[str, float], None] | None = None,
) -> ModelArchive:
    """Train the single YAML training document into the store; the model is not loaded.

    Unless ``force``, unchanged training data reuses the newest stored archive (as Rasa
    reuses the newest archive of its models folder).
    """
    try:
        project = project_from_yaml_document(document)
    except InvalidDomainError as exc:
        raise invalid_domain(exc) from None
    except BotError as exc:
        raise bad_request(
            f"The request body does not contain valid YAML training data: {exc}", parameter=""
        ) from None
    newest = None if force else archive_newest()
    if newest is not None and newest.fingerprint == project.fingerprint():
        return newest
    with tempfile.TemporaryDirectory(prefix="convapi-train-") as output:
        try:
            result = train(project, output_dir=output, augmentation=augmentation, progress=progress)
        except EngineError as exc:
            raise training_failed(f"Training failed: {exc}") from None
        metadata = {"model_id": result.model_id, "fingerprint": result.fingerprint}
        return model_store_file(path=result.path, name=result.path.name, metadata=metadata)


def training_text_check(text: str) -> None:
    """Refuse posted YAML whose aliases or nesting blow it up, before a job is made for it.

    Readers check again (engine/yaml_bounds.py), but a refusal here costs no job.
    """
    try:
        yaml_bounds_check(text)
    except YamlTooLarge as exc:
        raise bad_request(
            f"The YAML in the request body was refused: {exc}.", parameter=""
        ) from None


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
            return load_model(_archive_on_this_host(model_path))
        except (ModelLoadError, ModelStoreUnavailable) as exc:
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


def models_list() -> list[dict[str, Any]]:
    """The stored archives, newest first, marking the one every process serves."""
    chosen = served_model_get()
    served = chosen.archive_id if chosen is not None else None
    return [
        {
            "name": archive.name,
            "model_id": archive.model_id or None,
            "sha256": archive.sha256,
            "created": archive.created.isoformat(),
            "size": archive.size,
            "loaded": archive.sha256 == served,
        }
        for archive in archives_newest_first()
    ]
