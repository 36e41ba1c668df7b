"""The model archive: a ``.tar.gz`` of plain files (YAML, JSON, numpy arrays) plus metadata.json.

Nothing in an archive is unpickled, and extraction accepts only regular files and folders whose
paths stay inside the target, so a tampered archive can at worst fail to load. Packing is
deterministic (sorted members, fixed owners and modes, one timestamp) so two trainings of the
same bot differ only in their metadata's ids and times.

Layout of ``YYYYMMDD-HHMMSS-<adjective>-<noun>.tar.gz``::

    metadata.json   model_id (uuid hex), assistant_id, trained_at (ISO 8601, UTC), version
                    (engine version), minimum_compatible_version, fingerprint,
                    substituted_components, training_type (nlu/core/both), language,
                    max_history (turns the policies look back, null for NLU-only), warnings
    domain.yml      the domain as trained
    config.yml      the effective config (Rasa's defaults written out)
    nlu/            nlu_pipeline.json (component specs and JSON state) plus per-component
                    numpy ``.npz`` files (read with allow_pickle=False) and crfsuite models
    core/           policies.json (policy configs, rule and memo tables) plus policies.npz
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import re
import tarfile
import zlib
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import engine
from engine.errors import ModelLoadError

METADATA_FILE = "metadata.json"
ARCHIVE_SUFFIX = ".tar.gz"
# Any one member larger than this is not something we wrote.
MAX_MEMBER_BYTES = 2 * 1024**3

_ADJECTIVE_WORDS = (
    "amber agile bold brisk calm civic clever cosmic crisp dapper eager early fancy fast fluffy "
    "frozen gentle golden grand happy humble icy jolly keen kind lively lucky mellow merry misty "
    "modern narrow nimble noble olive patient plain proud quick quiet rapid regal rustic sandy "
    "sharp shiny silent simple sleek smooth snowy solid spicy steady sunny swift tidy vivid warm "
    "wise witty young zesty"
)
_NOUN_WORDS = (
    "acorn anchor badge basin beacon birch bison breeze brook cactus canyon cedar cello comet "
    "coral crane delta dune ember falcon fern fjord flute forest galaxy garnet geyser glacier "
    "harbor heron island jasper kettle lagoon lantern maple meadow mesa meteor nebula oasis "
    "orchid otter panda pebble pepper planet prairie quartz raven reef river saddle sparrow "
    "spruce summit tundra valley violin walrus willow zephyr"
)
_ADJECTIVES = _ADJECTIVE_WORDS.split()
_NOUNS = _NOUN_WORDS.split()


def archive_file_name(now: datetime | None = None, rng: random.Random | None = None) -> str:
    """A Rasa-style name: ``YYYYMMDD-HHMMSS-<adjective>-<noun>.tar.gz``."""
    now = now or datetime.now()
    rng = rng or random.SystemRandom()
    words = f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}"
    return f"{now.strftime('%Y%m%d-%H%M%S')}-{words}{ARCHIVE_SUFFIX}"


def pack_archive(source_dir: Path, target: Path, *, mtime: int = 0) -> Path:
    """Write every file under ``source_dir`` into ``target`` (atomically, via a temp file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    with (
        open(partial, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in sorted(source_dir.rglob("*")):
            _add_member(tar, path, path.relative_to(source_dir).as_posix(), mtime)
    os.replace(partial, target)
    return target


def _add_member(tar: tarfile.TarFile, path: Path, name: str, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if path.is_dir():
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        return
    data = path.read_bytes()
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def read_archive_metadata(path: str | Path) -> dict[str, Any]:
    """Read only ``metadata.json`` from an archive (cheap: used to decide whether to retrain)."""
    with _open_archive(Path(path)) as tar:
        try:
            member = tar.getmember(METADATA_FILE)
        except KeyError:
            raise ModelLoadError(
                f"'{Path(path).name}' is not a model archive: it has no {METADATA_FILE}"
            ) from None
        except _CORRUPT as exc:
            raise ModelLoadError(
                f"the model archive '{Path(path).name}' is corrupt: {exc}"
            ) from exc
        return _parse_metadata(_read_member(tar, member, path), path)


def unpack_archive(path: str | Path, target_dir: str | Path) -> dict[str, Any]:
    """Safely extract an archive into ``target_dir``; return its checked metadata."""
    path, target_dir = Path(path), Path(target_dir)
    with _open_archive(path) as tar:
        try:
            members = tar.getmembers()
            for member in members:
                _check_member(member, path)
            for member in members:
                _extract_member(tar, member, target_dir, path)
        except _CORRUPT as exc:
            raise ModelLoadError(f"the model archive '{path.name}' is corrupt: {exc}") from exc
    metadata_path = target_dir / METADATA_FILE
    if not metadata_path.is_file():
        raise ModelLoadError(f"'{path.name}' is not a model archive: it has no {METADATA_FILE}")
    metadata = _parse_metadata(metadata_path.read_bytes(), path)
    check_compatible(metadata, path)
    return metadata


def check_compatible(metadata: dict[str, Any], path: str | Path | None = None) -> None:
    """Refuse archives written by an engine older than the oldest format we can read."""
    name = Path(path).name if path else "the model"
    version = metadata.get("version")
    if not isinstance(version, str) or _version_tuple(version) is None:
        raise ModelLoadError(f"{name} has no valid engine version in its {METADATA_FILE}")
    if _version_tuple(version) < _version_tuple(engine.MINIMUM_COMPATIBLE_VERSION):
        raise ModelLoadError(
            f"{name} was trained with engine version {version}, which is older than the "
            f"minimum compatible version {engine.MINIMUM_COMPATIBLE_VERSION}; retrain it"
        )


def _version_tuple(version: str) -> tuple[int, ...] | None:
    match = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", version.strip())
    if not match:
        return None
    return tuple(int(part or 0) for part in match.groups())


# --- reading safely -------------------------------------------------------------------------

_CORRUPT = (tarfile.TarError, EOFError, zlib.error, OSError, gzip.BadGzipFile)


def _open_archive(path: Path) -> tarfile.TarFile:
    if not path.is_file():
        raise ModelLoadError(f"the model archive '{path}' does not exist")
    try:
        return tarfile.open(path, mode="r:*")
    except _CORRUPT as exc:
        reason = str(exc).splitlines()[0].rstrip(":")
        raise ModelLoadError(f"'{path.name}' is not a readable model archive ({reason})") from exc


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    """Only plain files and folders, relative paths that stay inside, sane sizes."""
    name = PurePosixPath(member.name)
    if not (member.isfile() or member.isdir()):
        raise ModelLoadError(
            f"the model archive '{archive.name}' holds '{member.name}', which is not a plain "
            "file or folder (links and devices are refused)"
        )
    if name.is_absolute() or ".." in name.parts or "\\" in member.name or ":" in member.name:
        raise ModelLoadError(
            f"the model archive '{archive.name}' holds '{member.name}', a path that leaves "
            "the archive folder"
        )
    if member.size > MAX_MEMBER_BYTES:
        raise ModelLoadError(f"the model archive '{archive.name}' holds an oversized file")


def _extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, target_dir: Path, archive: Path
) -> None:
    root = target_dir.resolve()
    destination = (root / member.name).resolve()
    if destination != root and root not in destination.parents:
        raise ModelLoadError(f"the model archive '{archive.name}' escapes its folder")
    if member.isdir():
        destination.mkdir(parents=True, exist_ok=True)
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(_read_member(tar, member, archive))


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, archive: str | Path) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:
        raise ModelLoadError(f"'{member.name}' in '{Path(archive).name}' is not a file")
    return handle.read()


def _parse_metadata(raw: bytes, archive: str | Path) -> dict[str, Any]:
    try:
        metadata = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(
            f"the {METADATA_FILE} of '{Path(archive).name}' is not valid JSON: {exc}"
        ) from exc
    if not isinstance(metadata, dict) or not metadata.get("model_id"):
        raise ModelLoadError(f"the {METADATA_FILE} of '{Path(archive).name}' has no model_id")
    return metadata
