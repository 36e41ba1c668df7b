"""The model archive store: every host can fetch any archive, so no shared volume is needed.

An archive is stored once, named by the sha256 of its bytes: as ~1 MiB ``ModelArchiveChunk``
rows of the database (the default), or as one object in the Django storage that
``CONVAPI_MODEL_STORAGE`` names (an alias of ``STORAGES``: S3 through django-storages, a
file system...). Bytes move one chunk at a time, never the whole archive in memory.

Each process loads archives from its own cache folder (``CONVAPI_MODEL_CACHE``): a file
lands there under a temporary name, is checked against its hash, then renamed, so a
reader never sees half a file; a cached copy is checked again before each load, so
neither a tampered store nor a tampered cache reaches the loader.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.core.files.storage.handler import InvalidStorageError
from django.db import IntegrityError, transaction

from engine.archive import ARCHIVE_SUFFIX
from engine.errors import ModelLoadError
from serving.models import ModelArchive, ModelArchiveChunk

logger = logging.getLogger(__name__)
CHUNK_BYTES = 1024 * 1024
DEFAULT_NAME = f"model{ARCHIVE_SUFFIX}"


class ModelStoreUnavailable(Exception):
    """The configured storage did not answer (a bucket down, a folder not writable)."""


def model_storage_check() -> None:
    """Refuse to start with a ``CONVAPI_MODEL_STORAGE`` that names no usable storage."""
    alias = settings.CONVAPI_MODEL_STORAGE
    if not alias:
        return
    try:
        storages[alias]
    except (InvalidStorageError, ImportError, TypeError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"CONVAPI_MODEL_STORAGE={alias!r}: {exc}. Name an entry of STORAGES "
            "(CONVAPI_MODEL_STORAGE_BACKEND and CONVAPI_MODEL_STORAGE_OPTIONS define one), "
            "or leave it empty to keep model archives in the database."
        ) from exc


def model_cache_check() -> None:
    """Refuse to start with a ``CONVAPI_MODEL_CACHE`` this process cannot write to."""
    folder = Path(settings.CONVAPI_MODEL_CACHE)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImproperlyConfigured(f"CONVAPI_MODEL_CACHE={folder}: {exc}") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ImproperlyConfigured(f"CONVAPI_MODEL_CACHE={folder}: not writable by this user")


def archive_put(*, path: Path, name: str, metadata: dict[str, Any]) -> ModelArchive:
    """Store the archive at ``path`` (once per content) and keep a copy in this host's cache.

    The file is copied into the cache first and stored from that copy, so the bytes stored
    are exactly the bytes hashed even if ``path`` changes meanwhile.
    """
    with path.open("rb") as source:
        partial, sha256 = _cache_receive(_blocks(source))
    archive = ModelArchive.objects.filter(pk=sha256).first()
    if archive is None:
        cached = _cache_keep(partial, sha256=sha256, name=_safe_name(name))
        return _archive_write(cached, sha256=sha256, metadata=metadata)
    _cache_keep(partial, sha256=sha256, name=archive.name)
    return archive


def archive_fetch(archive: ModelArchive) -> Path:
    """The archive on this host's disk: the cached copy, or fetched from the store and checked."""
    cached = _cache_path(archive)
    if cached.is_file() and _file_sha256(cached) == archive.sha256:
        return cached  # checked on every use: the cache folder is only this host's disk
    partial, sha256 = _cache_receive(_stored_blocks(archive))
    if sha256 != archive.sha256:
        partial.unlink(missing_ok=True)
        raise ModelLoadError(
            f"the stored model archive '{archive.name}' is corrupt: its bytes hash to "
            f"{sha256}, not {archive.sha256}"
        )
    return _cache_keep(partial, sha256=sha256, name=archive.name)


def archive_find(reference: str) -> ModelArchive | None:
    """A stored archive by its sha256, or the newest one with that file name."""
    if "\x00" in reference:
        return None  # no stored name holds one, and PostgreSQL refuses to compare it
    by_hash = ModelArchive.objects.filter(pk=reference.lower()).first()
    if by_hash is not None:
        return by_hash
    name = Path(reference).name
    return ModelArchive.objects.filter(name=name).order_by("-created").first() if name else None


def archive_get(sha256: str) -> ModelArchive | None:
    return ModelArchive.objects.filter(pk=sha256).first()


def archives_newest_first() -> list[ModelArchive]:
    return list(ModelArchive.objects.order_by("-created", "sha256"))


def archive_newest() -> ModelArchive | None:
    return ModelArchive.objects.order_by("-created", "sha256").first()


def archive_delete(archive: ModelArchive) -> None:
    """Forget an archive: its row and chunks, then its storage object (never the served one)."""
    archive.delete()  # ProtectedError while the ServedModel row names it
    if archive.storage:
        try:
            _storage(archive.storage).delete(archive.location)
        except Exception as exc:  # noqa: BLE001 - the row is gone; a stray object only costs space
            logger.warning("Could not delete %s from '%s': %s", archive, archive.storage, exc)


# --- writing ---------------------------------------------------------------------------------


def _archive_write(cached: Path, *, sha256: str, metadata: dict[str, Any]) -> ModelArchive:
    alias = settings.CONVAPI_MODEL_STORAGE
    archive = ModelArchive(
        sha256=sha256,
        name=cached.name,
        size=cached.stat().st_size,
        model_id=str(metadata.get("model_id") or "")[:64],
        fingerprint=str(metadata.get("fingerprint") or "")[:128],
        storage=alias,
    )
    try:
        # The row and its chunks commit together: a listed archive always has all its bytes.
        with transaction.atomic():
            if alias:
                archive.location = _storage_save(alias, cached, sha256)
            archive.save(force_insert=True)
            if not alias:
                _chunks_write(archive, cached)
    except IntegrityError:
        # Another process stored the same bytes first: theirs is the same archive.
        return ModelArchive.objects.get(pk=sha256)
    logger.info("Stored the model archive %s (%s, %d bytes)", archive.name, sha256, archive.size)
    return archive


def _chunks_write(archive: ModelArchive, path: Path) -> None:
    with path.open("rb") as source:
        for number, block in enumerate(_blocks(source)):
            ModelArchiveChunk.objects.create(archive=archive, number=number, data=block)


def _storage_save(alias: str, path: Path, sha256: str) -> str:
    storage = _storage(alias)
    name = f"{sha256}{ARCHIVE_SUFFIX}"
    try:
        if storage.exists(name):
            return name  # the same bytes, by their name
        with path.open("rb") as source:
            return storage.save(name, File(source, name=name))
    except Exception as exc:  # noqa: BLE001 - every backend fails its own way (OSError, botocore)
        raise ModelStoreUnavailable(f"the model storage '{alias}' failed: {exc}") from exc


# --- reading ---------------------------------------------------------------------------------


def _stored_blocks(archive: ModelArchive) -> Iterator[bytes]:
    if archive.storage:
        yield from _storage_blocks(archive)
        return
    # One query per chunk: no server-side cursor (which a transaction-pooling PgBouncer
    # breaks) and never more than one chunk in memory.
    number = 0
    while True:
        data = (
            ModelArchiveChunk.objects.filter(archive_id=archive.sha256, number=number)
            .values_list("data", flat=True)
            .first()
        )
        if data is None:
            return
        yield bytes(data)
        number += 1


def _storage_blocks(archive: ModelArchive) -> Iterator[bytes]:
    storage = _storage(archive.storage)
    try:
        source = storage.open(archive.location, "rb")
    except FileNotFoundError:
        raise ModelLoadError(
            f"the model archive '{archive.name}' is missing from the storage '{archive.storage}'"
        ) from None
    except Exception as exc:  # noqa: BLE001 - every backend fails its own way
        raise ModelStoreUnavailable(f"the model storage '{archive.storage}' failed: {exc}") from exc
    with source:
        yield from _blocks(source)


def _storage(alias: str) -> Storage:
    try:
        return storages[alias]
    except InvalidStorageError as exc:
        raise ModelStoreUnavailable(f"no model storage '{alias}' is configured: {exc}") from exc


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in _blocks(source):
            digest.update(block)
    return digest.hexdigest()


def _blocks(source: IO[bytes]) -> Iterator[bytes]:
    return iter(lambda: source.read(CHUNK_BYTES), b"")


# --- this host's cache -----------------------------------------------------------------------


def _cache_path(archive: ModelArchive) -> Path:
    # The folder is the hash, the file keeps the archive's name (what /status reports).
    return Path(settings.CONVAPI_MODEL_CACHE) / archive.sha256 / archive.name


def _cache_receive(blocks: Iterable[bytes]) -> tuple[Path, str]:
    """Write ``blocks`` to a temporary file in the cache folder; its path and sha256."""
    folder = Path(settings.CONVAPI_MODEL_CACHE)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=folder, prefix=".partial-")
    except OSError as exc:
        raise ModelStoreUnavailable(f"this host's model cache {folder} failed: {exc}") from exc
    digest = hashlib.sha256()
    try:
        with os.fdopen(descriptor, "wb") as partial:
            for block in blocks:
                digest.update(block)
                partial.write(block)
    except OSError as exc:  # a full disk: this host cannot keep the archive
        Path(name).unlink(missing_ok=True)
        raise ModelStoreUnavailable(f"this host's model cache {folder} failed: {exc}") from exc
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), digest.hexdigest()


def _cache_keep(partial: Path, *, sha256: str, name: str) -> Path:
    target = Path(settings.CONVAPI_MODEL_CACHE) / sha256 / name
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, target)  # atomic: readers see the whole file or none
    return target


def _safe_name(name: str) -> str:
    """A plain file name (a client or a model server chose it)."""
    base = Path(name.replace("\\", "/")).name
    return base[:255] if base and not base.startswith(".") else DEFAULT_NAME
