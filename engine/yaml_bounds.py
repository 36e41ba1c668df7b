"""YAML from untrusted hands (posted training data, a bot's files), read within bounds.

PyYAML shares an aliased node rather than copying it, so a "billion laughs" document (9
levels of 9 aliases in 1.5 KB) parses in microseconds; what explodes is every later walk of
the result (fingerprints, JSON, training), each visiting all 387 million expanded nodes.
Deep nesting is worse: libyaml's composer recurses, and 100,000 nested ``[`` (200 KB) crash
the process (SIGSEGV). So before anything is built, the document's events are streamed once (no
objects kept, constant memory) while its expanded size (nodes plus scalar characters, an
alias counted as all it stands for) and its depth are added up; a document out of
proportion to its bytes is refused.
"""

from __future__ import annotations

from typing import IO

import yaml

# Without aliases a document's expanded size is at most about twice its bytes (a node and
# a character per byte); modest aliases fit in the margin above that.
SIZE_PER_BYTE = 4
SIZE_ALLOWANCE = 100_000
# Rasa's files nest a dozen levels; custom response payloads a few more.
MAX_DEPTH = 200

_Parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlTooLarge(yaml.YAMLError):
    """The document expands through its aliases, or nests, past what its size allows.

    A ``YAMLError``, so every reader reports it as it reports a syntax error.
    """


def yaml_bounds_check(text: str) -> None:
    """Refuse ``text`` if it expands or nests out of proportion to its bytes.

    Syntax errors are left to the parser that reads the document: it names their line.
    """
    allowed = SIZE_ALLOWANCE + SIZE_PER_BYTE * len(text)
    sizes: dict[str, int] = {}  # what each anchor stands for, expanded
    open_collections: list[tuple[str | None, int]] = []  # (anchor, size before it)
    size = 0
    try:
        for event in yaml.parse(text, Loader=_Parser):
            if isinstance(event, yaml.AliasEvent):
                if any(anchor == event.anchor for anchor, _ in open_collections):
                    raise YamlTooLarge("an alias refers to a collection that contains it")
                if event.anchor not in sizes:
                    return  # undefined: the parser reports it
                size += sizes[event.anchor]
            elif isinstance(event, yaml.ScalarEvent):
                size += 1 + len(event.value)
                if event.anchor:
                    sizes[event.anchor] = 1 + len(event.value)
            elif isinstance(event, yaml.CollectionStartEvent):
                open_collections.append((event.anchor, size))
                size += 1
                if len(open_collections) > MAX_DEPTH:
                    raise YamlTooLarge(f"it nests deeper than {MAX_DEPTH} levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, before = open_collections.pop()
                if anchor:
                    sizes[anchor] = size - before
            if size > allowed:
                raise YamlTooLarge(
                    f"its aliases expand {len(text):,} characters to more than {allowed:,} "
                    "nodes and characters"
                )
    except YamlTooLarge:
        raise
    except yaml.YAMLError:
        return


class BoundedSafeLoader(_Parser):  # type: ignore[misc,valid-type]
    """PyYAML's safe loader (libyaml's when installed) that checks the bounds first."""

    def __init__(self, stream: str | bytes | IO) -> None:
        if not isinstance(stream, str | bytes):
            stream = stream.read()
        text = stream.decode("utf-8", "replace") if isinstance(stream, bytes) else stream
        yaml_bounds_check(text)
        super().__init__(stream)
