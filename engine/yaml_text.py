"""The engine's one YAML dumper, for the files and responses Rasa users read.

PyYAML's safe dumper, keys in the order given, Unicode as is; two string markers pick
the styles Rasa writes: ``DoubleQuoted`` (``version: "3.1"``) and ``Literal`` (``|``
blocks for texts). The domain and the training-data writer share it.
"""

from __future__ import annotations

from typing import Any

import yaml


class DoubleQuoted(str):
    """A string written in double quotes."""


class Literal(str):
    """A string written as a literal ``|`` block."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    DoubleQuoted,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"'),
)
_Dumper.add_representer(
    Literal,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|"),
)


def dump_yaml(document: Any, *, width: int | None = None) -> str:
    """YAML text of ``document``; ``width`` None folds long lines at PyYAML's default."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=width)
