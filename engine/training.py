"""Training a project into a model archive, or skipping it when nothing changed.

The work happens in a temporary folder that is packed into ``<output_dir>/<name>.tar.gz`` at the
end, so an interrupted training never leaves a half-written archive behind.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import engine
from engine.archive import (
    ARCHIVE_SUFFIX,
    METADATA_FILE,
    archive_file_name,
    pack_archive,
    read_archive_metadata,
)
from engine.errors import BotError, ModelLoadError
from engine.nlu import NLUPipeline
from engine.policies import PolicyEnsemble
from engine.project import Project

# progress(step_name, overall_fraction): called as each component or policy trains; the
# fraction covers the whole training (0.0 to 1.0) so a job can show it as it is.
ProgressCallback = Callable[[str, float], None]

NLU_DIR = "nlu"
CORE_DIR = "core"


@dataclass(frozen=True)
class TrainingResult:
    """Where the model is and whether it was freshly trained (``skipped`` = reused)."""

    path: Path
    skipped: bool
    model_id: str
    fingerprint: str
    training_type: str
    seconds: float
    substitutions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def train(
    project: Project,
    *,
    output_dir: str | Path,
    force: bool = False,
    augmentation: int = 50,
    seed: int = 42,
    progress: ProgressCallback | None = None,
    fixed_name: str | None = None,
) -> TrainingResult:
    """Train ``project`` into a new archive in ``output_dir`` unless the newest one is current."""
    started = time.perf_counter()
    output_dir = Path(output_dir)
    fingerprint = project.fingerprint()
    if not force:
        reused = _current_archive(output_dir, fingerprint)
        if reused is not None:
            path, metadata = reused
            return TrainingResult(
                path=path,
                skipped=True,
                model_id=metadata["model_id"],
                fingerprint=fingerprint,
                training_type=metadata.get("training_type", ""),
                seconds=time.perf_counter() - started,
                substitutions=list(metadata.get("substituted_components") or []),
                warnings=list(project.warnings),
            )
    name = _file_name(fixed_name)
    reporter = _Reporter(progress)
    with tempfile.TemporaryDirectory(prefix="convapi-train-") as work:
        metadata = _train_into(Path(work), project, reporter, augmentation, seed, fingerprint)
        path = pack_archive(Path(work), output_dir / name, mtime=int(time.time()))
    return TrainingResult(
        path=path,
        skipped=False,
        model_id=metadata["model_id"],
        fingerprint=fingerprint,
        training_type=metadata["training_type"],
        seconds=time.perf_counter() - started,
        substitutions=metadata["substituted_components"],
        warnings=list(project.warnings),
    )


def _file_name(fixed_name: str | None) -> str:
    if not fixed_name:
        return archive_file_name()
    if Path(fixed_name).name != fixed_name or fixed_name.startswith("."):
        raise BotError(f"the model name '{fixed_name}' must be a plain file name")
    return fixed_name if fixed_name.endswith(ARCHIVE_SUFFIX) else fixed_name + ARCHIVE_SUFFIX


def newest_archive(output_dir: str | Path) -> Path | None:
    """The most recently written ``.tar.gz`` in a folder (by modification time, then name)."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    archives = [p for p in folder.iterdir() if p.name.endswith(ARCHIVE_SUFFIX) and p.is_file()]
    if not archives:
        return None
    return max(archives, key=lambda p: (p.stat().st_mtime, p.name))


def _current_archive(output_dir: Path, fingerprint: str) -> tuple[Path, dict[str, Any]] | None:
    path = newest_archive(output_dir)
    if path is None:
        return None
    try:
        metadata = read_archive_metadata(path)
    except ModelLoadError:
        return None  # an unreadable archive is simply not reusable
    if metadata.get("fingerprint") != fingerprint or metadata.get("version") != engine.__version__:
        return None
    return path, metadata


def _train_into(
    work: Path,
    project: Project,
    reporter: _Reporter,
    augmentation: int,
    seed: int,
    fingerprint: str,
) -> dict[str, Any]:
    """Write domain, config, trained components and metadata.json into ``work``."""
    (work / "domain.yml").write_text(project.domain.as_yaml(), encoding="utf-8")
    (work / "config.yml").write_text(project.config.as_yaml(), encoding="utf-8")
    substitutions: list[str] = []
    if project.has_nlu:
        pipeline = _nlu_pipeline(project, seed)
        pipeline.train(
            project.nlu,
            progress=reporter.phase(_nlu_weight(project)),
            responses=project.domain.responses,
        )
        (work / NLU_DIR).mkdir()
        pipeline.persist(work / NLU_DIR)
        substitutions = list(pipeline.substitutions)
    max_history = None
    if project.has_core:
        ensemble = PolicyEnsemble.from_config(project.config.policies)
        ensemble.train(
            project.stories,
            project.domain,
            augmentation=augmentation,
            seed=seed,
            progress=reporter.phase(1.0 - _nlu_weight(project), steps=len(ensemble.policies)),
        )
        (work / CORE_DIR).mkdir()
        ensemble.persist(work / CORE_DIR)
        max_history = ensemble.max_history_needed
    metadata = _metadata(project, fingerprint, substitutions, max_history)
    (work / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True), "utf-8")
    return metadata


def _nlu_pipeline(project: Project, seed: int) -> NLUPipeline:
    """The configured pipeline, seeded with ``seed`` unless the config names a random_seed."""
    config = project.config
    pipeline = NLUPipeline.from_config(config.pipeline, language=config.language)
    if any("random_seed" in spec for spec in config.pipeline) or pipeline.seed == seed:
        return pipeline
    return NLUPipeline(
        pipeline.specs, language=config.language, substitutions=pipeline.substitutions, seed=seed
    )


def _metadata(
    project: Project, fingerprint: str, substitutions: list[str], max_history: int | None
) -> dict[str, Any]:
    return {
        "model_id": uuid.uuid4().hex,
        "assistant_id": project.config.assistant_id,
        "trained_at": datetime.now(UTC).isoformat(),
        "version": engine.__version__,
        "minimum_compatible_version": engine.MINIMUM_COMPATIBLE_VERSION,
        "fingerprint": fingerprint,
        "substituted_components": substitutions,
        "training_type": project.training_type,
        "language": project.config.language,
        "max_history": max_history,
        "warnings": list(project.warnings),
    }


def _nlu_weight(project: Project) -> float:
    """The share of the training time the NLU part gets in the progress figure."""
    if not project.has_core:
        return 1.0
    if not project.has_nlu:
        return 0.0
    nlu, core = len(project.config.pipeline), len(project.config.policies)
    return nlu / max(nlu + core, 1)


class _Reporter:
    """Maps each phase's own 0..1 progress onto one monotonic overall 0..1 figure."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.start = 0.0
        self.overall = 0.0

    def phase(self, weight: float, steps: int = 0) -> Callable[[str, float], None]:
        """A callback for one phase. With ``steps`` the phase reports each step's own 0..1
        (the policy ensemble); without, it reports its overall 0..1 (the NLU pipeline)."""
        start, self.start = self.start, self.start + weight
        state = {"step": -1, "name": None, "last": 1.0}

        def report(name: str, fraction: float) -> None:
            fraction = min(max(float(fraction), 0.0), 1.0)
            name = "NLU pipeline" if name == "done" else name  # the pipeline's end marker
            if steps:
                if name != state["name"] or fraction < state["last"]:
                    state["step"] += 1
                state["name"], state["last"] = name, fraction
                fraction = min((state["step"] + fraction) / steps, 1.0)
            self.overall = max(self.overall, min(start + weight * fraction, 1.0))
            if self.callback is not None:
                self.callback(name, self.overall)

        return report
