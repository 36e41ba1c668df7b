"""Safe persistence for trained components: JSON, numpy .npz without pickle, crfsuite files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ModelLoadError


class Store:
    """One directory; every component writes files under its own prefix."""

    def __init__(self, directory: Path, prefix: str = "") -> None:
        self.directory = Path(directory)
        self.prefix = prefix

    def scoped(self, prefix: str) -> Store:
        return Store(self.directory, prefix)

    def path(self, name: str) -> Path:
        return self.directory / f"{self.prefix}{name}"

    def save_arrays(self, name: str, **arrays: np.ndarray) -> None:
        np.savez_compressed(self.path(f"{name}.npz"), **arrays)

    def load_arrays(self, name: str) -> dict[str, np.ndarray]:
        path = self.path(f"{name}.npz")
        try:
            with np.load(path, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise ModelLoadError(f"cannot read model file '{path.name}': {exc}") from exc

    def require(self, name: str) -> Path:
        path = self.path(name)
        if not path.is_file():
            raise ModelLoadError(f"model file '{path.name}' is missing")
        return path


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False), "utf-8")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise ModelLoadError(f"model file '{path.name}' is missing") from exc
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"model file '{path.name}' is corrupt: {exc}") from exc
