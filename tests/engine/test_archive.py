from __future__ import annotations

import io
import json
import re
import tarfile
from datetime import datetime
from pathlib import Path

import pytest

import engine
from engine.archive import (
    archive_file_name,
    check_compatible,
    pack_archive,
    read_archive_metadata,
    unpack_archive,
)
from engine.errors import ModelLoadError

METADATA = {"model_id": "abc123", "version": engine.__version__}


def _model_dir(tmp_path: Path, metadata: dict | None = METADATA) -> Path:
    source = tmp_path / "src"
    (source / "nlu").mkdir(parents=True)
    (source / "nlu" / "weights.json").write_text('{"w": [1, 2]}')
    (source / "domain.yml").write_text("version: '3.1'\n")
    if metadata is not None:
        (source / "metadata.json").write_text(json.dumps(metadata))
    return source


def _tar_with(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def test_it_names_archives_like_rasa() -> None:
    name = archive_file_name(datetime(2024, 5, 17, 8, 9, 10))
    assert re.fullmatch(r"20240517-080910-[a-z]+-[a-z]+\.tar\.gz", name)


def test_it_round_trips_files_and_metadata(tmp_path: Path) -> None:
    archive = pack_archive(_model_dir(tmp_path), tmp_path / "out" / "m.tar.gz")
    assert read_archive_metadata(archive)["model_id"] == "abc123"
    metadata = unpack_archive(archive, tmp_path / "x")
    assert metadata == METADATA
    assert (tmp_path / "x" / "nlu" / "weights.json").read_text() == '{"w": [1, 2]}'


def test_it_packs_deterministically(tmp_path: Path) -> None:
    source = _model_dir(tmp_path)
    first = pack_archive(source, tmp_path / "a.tar.gz").read_bytes()
    second = pack_archive(source, tmp_path / "b.tar.gz").read_bytes()
    assert first == second


def test_it_rejects_path_traversal(tmp_path: Path) -> None:
    meta = json.dumps(METADATA).encode()
    archive = _tar_with(tmp_path, [_file("metadata.json", meta), _file("../escape.txt", b"x")])
    with pytest.raises(ModelLoadError, match="leaves the archive"):
        unpack_archive(archive, tmp_path / "x")
    assert not (tmp_path / "escape.txt").exists()


def test_it_rejects_absolute_paths(tmp_path: Path) -> None:
    archive = _tar_with(tmp_path, [_file("/tmp/abs.txt", b"x")])
    with pytest.raises(ModelLoadError, match="leaves the archive"):
        unpack_archive(archive, tmp_path / "x")


def test_it_rejects_links(tmp_path: Path) -> None:
    link = tarfile.TarInfo("domain.yml")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    archive = _tar_with(
        tmp_path, [_file("metadata.json", json.dumps(METADATA).encode()), (link, None)]
    )
    with pytest.raises(ModelLoadError, match="links"):
        unpack_archive(archive, tmp_path / "x")


def test_it_rejects_an_archive_without_metadata(tmp_path: Path) -> None:
    archive = pack_archive(_model_dir(tmp_path, metadata=None), tmp_path / "m.tar.gz")
    with pytest.raises(ModelLoadError, match="no metadata.json"):
        unpack_archive(archive, tmp_path / "x")
    with pytest.raises(ModelLoadError, match="no metadata.json"):
        read_archive_metadata(archive)


def test_it_rejects_an_archive_that_is_too_old(tmp_path: Path) -> None:
    old = {"model_id": "abc", "version": "0.0.1"}
    archive = pack_archive(_model_dir(tmp_path, metadata=old), tmp_path / "m.tar.gz")
    with pytest.raises(ModelLoadError, match="older than the minimum compatible version"):
        unpack_archive(archive, tmp_path / "x")


def test_it_rejects_metadata_without_a_version() -> None:
    with pytest.raises(ModelLoadError, match="no valid engine version"):
        check_compatible({"model_id": "abc"})


def test_it_rejects_a_file_that_is_not_a_tar(tmp_path: Path) -> None:
    path = tmp_path / "model.tar.gz"
    path.write_text("hello, I am not a model")
    with pytest.raises(ModelLoadError, match="not a readable model archive"):
        unpack_archive(path, tmp_path / "x")


def test_it_rejects_a_truncated_archive(tmp_path: Path) -> None:
    archive = pack_archive(_model_dir(tmp_path), tmp_path / "m.tar.gz")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError):
        unpack_archive(archive, tmp_path / "x")


def test_it_rejects_a_missing_archive(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        unpack_archive(tmp_path / "nope.tar.gz", tmp_path / "x")


def test_it_rejects_metadata_that_is_not_json(tmp_path: Path) -> None:
    archive = _tar_with(tmp_path, [_file("metadata.json", b"{not json")])
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        read_archive_metadata(archive)
