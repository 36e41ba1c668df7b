"""A bot project: config, domain, NLU data, stories and rules, read and checked together.

Two ways in: a bot directory laid out as Rasa expects (``domain.yml`` or a ``domain/`` folder,
``config.yml``, ``data/`` of any depth and file names, ``tests/``), or the single YAML document
``POST /model/train`` receives. Both end in the same cross-checks, so a story that uses an
action or intent the domain lacks fails before any training starts, naming the file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import engine
from engine.config import BotConfig, config_from_dict, load_config, read_yaml, read_yaml_file
from engine.domain import Domain
from engine.errors import BotError, InvalidDomainError
from engine.training_data.nlu import NLUTrainingData, nlu_data_from_dict, nlu_data_from_rasa_json
from engine.training_data.stories import (
    LoopStep,
    StoryData,
    story_data_from_dict,
    story_data_from_yaml,
)

YAML_SUFFIXES = (".yml", ".yaml")
CONFIG_KEYS = ("recipe", "language", "pipeline", "policies", "assistant_id")
DOMAIN_KEYS = (
    "version",
    "intents",
    "entities",
    "slots",
    "responses",
    "actions",
    "forms",
    "session_config",
    "config",
    "e2e_actions",
)
STORY_KEYS = ("stories", "rules")
# Domain sections whose entries are listed (merged by concatenation) vs. keyed (merged by key).
_LIST_SECTIONS = ("intents", "entities", "actions", "e2e_actions")
_MAP_SECTIONS = ("slots", "responses", "forms", "session_config", "config")


@dataclass
class Project:
    """Everything training reads, already validated against each other."""

    config: BotConfig
    domain: Domain
    nlu: NLUTrainingData
    stories: StoryData
    root: Path | None = None
    test_files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def has_nlu(self) -> bool:
        return bool(self.nlu.intent_examples)

    @property
    def has_core(self) -> bool:
        return not _stories_empty(self.stories)

    @property
    def training_type(self) -> str:
        """``both``, ``nlu`` or ``core``: what the archive will hold."""
        if self.has_nlu and self.has_core:
            return "both"
        return "nlu" if self.has_nlu else "core"

    def fingerprint(self) -> str:
        """One hash over config, domain, data and engine version: equal means nothing to retrain."""
        parts = {
            "engine": engine.__version__,
            "config": self.config.fingerprint(),
            "domain": self.domain.fingerprint(),
            "nlu": self.nlu.fingerprint(),
            "stories": self.stories.fingerprint(),
        }
        text = json.dumps(parts, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- a bot directory ----------------------------------------------------------------------


@dataclass
class BotSources:
    """A bot directory read but not checked: its config, its domain document (with the
    responses its data files carry) and each data file's NLU examples and stories."""

    root: Path
    config: BotConfig
    domain_data: dict[str, Any]
    domain_source: str
    data_files: list[tuple[str, NLUTrainingData, StoryData]]


def read_bot_sources(path: str | Path) -> BotSources:
    """Every file of a Rasa bot directory, parsed (a malformed file raises BotError)."""
    root = Path(path)
    if not root.is_dir():
        raise BotError(f"the bot directory '{root}' does not exist")
    config = load_config(_first_existing(root, "config.yml", "config.yaml"))
    domain_data, domain_source = _read_domain_files(root)
    data_files = []
    for file in yaml_files(root / "data", suffixes=(*YAML_SUFFIXES, ".json")):
        nlu, stories, responses = _read_data_file(file)
        data_files.append((str(file), nlu, stories))
        _merge_domain_section(domain_data, "responses", responses, str(file))
    return BotSources(root, config, domain_data, domain_source, data_files)


def load_project(path: str | Path) -> Project:
    """Read and validate a Rasa bot directory."""
    sources = read_bot_sources(path)
    project = _assemble(
        sources.config,
        sources.domain_data,
        [nlu for _, nlu, _ in sources.data_files],
        [(name, stories) for name, _, stories in sources.data_files],
        domain_source=sources.domain_source,
    )
    project.root = sources.root
    project.test_files = yaml_files(sources.root / "tests")
    return project


def yaml_files(folder: Path, *, suffixes: tuple[str, ...] = YAML_SUFFIXES) -> list[Path]:
    """Every data file under ``folder`` (any depth), in a stable order; hidden files skipped."""
    if not folder.is_dir():
        return []
    found = [
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in suffixes
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(found)


def _first_existing(root: Path, *names: str) -> Path:
    for name in names:
        if (root / name).exists():
            return root / name
    return root / names[0]


def _read_domain_files(root: Path) -> tuple[dict[str, Any], str]:
    """``domain.yml`` or every YAML file of a ``domain/`` folder, merged into one document."""
    single = _first_existing(root, "domain.yml", "domain.yaml")
    if single.is_file():
        files = [single]
    elif (root / "domain").is_dir():
        single, files = root / "domain", yaml_files(root / "domain")
    else:
        raise InvalidDomainError(f"the bot '{root}' has no domain.yml and no domain/ folder")
    merged: dict[str, Any] = {}
    for file in files:
        document = read_yaml_file(file) or {}
        if not isinstance(document, dict):
            raise InvalidDomainError("the domain must be a mapping of sections", file=str(file))
        for key, value in document.items():
            _merge_domain_section(merged, key, value, str(file))
    return merged, str(single)


def _merge_domain_section(merged: dict[str, Any], key: str, value: Any, source: str) -> None:
    if value is None:
        return
    if key in _LIST_SECTIONS:
        if not isinstance(value, list):
            raise InvalidDomainError(f"'{key}' must be a list", file=source, key=key)
        merged.setdefault(key, []).extend(v for v in value if v not in merged.get(key, []))
    elif key in _MAP_SECTIONS:
        if not isinstance(value, dict):
            raise InvalidDomainError(f"'{key}' must be a mapping", file=source, key=key)
        merged.setdefault(key, {}).update(value)
    else:
        merged.setdefault(key, value)


def _read_data_file(file: Path) -> tuple[NLUTrainingData, StoryData, dict[str, Any] | None]:
    """One data file may hold NLU, stories and rules together (plus retrieval responses)."""
    source = str(file)
    if file.suffix.lower() == ".json":
        try:
            document = json.loads(_read_text(file))
        except json.JSONDecodeError as exc:
            raise BotError(f"invalid JSON at line {exc.lineno}: {exc.msg}", file=source) from exc
        return nlu_data_from_rasa_json(document), StoryData(), None
    text = _read_text(file)
    document = read_yaml(text, source=source) or {}
    if not isinstance(document, dict):
        raise BotError("a training data file must be a mapping (nlu, stories, rules)", file=source)
    nlu = nlu_data_from_dict({"nlu": document.get("nlu")}, source=source)
    stories = StoryData()
    if any(document.get(key) is not None for key in STORY_KEYS):
        # Parsed again from the text so that story errors can name their line.
        stories = story_data_from_yaml(text, source=source)
    return nlu, stories, document.get("responses")


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BotError(f"cannot read the file: {exc}", file=str(file)) from exc


# --- one YAML document (POST /model/train) -----------------------------------------------


def project_from_yaml_document(text: str) -> Project:
    """Read the single document holding config, domain, nlu, stories and rules together."""
    if not text or not text.strip():
        raise BotError("the training document is empty")
    document = read_yaml(text, source="training request")
    if not isinstance(document, dict):
        raise BotError("the training document must be a YAML mapping")
    config = config_from_dict({k: document[k] for k in CONFIG_KEYS if k in document})
    domain_data: dict[str, Any] = {}
    for key in DOMAIN_KEYS:
        _merge_domain_section(domain_data, key, document.get(key), "training request")
    nlu = nlu_data_from_dict({"nlu": document.get("nlu")})
    stories = story_data_from_dict({key: document.get(key) for key in STORY_KEYS})
    return _assemble(config, domain_data, [nlu], [(None, stories)])


# --- assembling and validating ------------------------------------------------------------


def _assemble(
    config: BotConfig,
    domain_data: dict[str, Any],
    nlu_parts: list[NLUTrainingData],
    story_parts: list[tuple[str | None, StoryData]],
    *,
    domain_source: str | None = None,
) -> Project:
    nlu = NLUTrainingData().merge(*nlu_parts)
    stories = _merge_stories([part for _, part in story_parts])
    sync_domain_with_data(domain_data, nlu, stories)
    domain = Domain.from_dict(domain_data, source=domain_source)
    warnings: list[str] = []
    for source, part in story_parts:
        warnings.extend(check_stories_against_domain(part, domain, source=source))
    warnings.extend(_nlu_warnings(nlu, domain))
    project = Project(config, domain, nlu, stories, warnings=warnings)
    if not project.has_nlu and not project.has_core:
        raise BotError("the bot has no training data: no NLU examples, stories or rules")
    return project


def sync_domain_with_data(
    domain_data: dict[str, Any], nlu: NLUTrainingData, stories: StoryData
) -> None:
    """What Rasa's importers add to the domain: each retrieval intent of the NLU data with its
    ``utter_<intent>`` action, and the end-to-end bot texts of the stories."""
    declared = {
        next(iter(item), None) if isinstance(item, dict) else item
        for item in domain_data.get("intents") or []
        if isinstance(item, str | dict)  # anything else is the domain's to reject
    }
    retrieval = sorted(nlu.retrieval_intents)
    new_intents = [intent for intent in retrieval if intent not in declared]
    _merge_domain_section(domain_data, "intents", new_intents, "NLU data")
    _merge_domain_section(domain_data, "actions", [f"utter_{i}" for i in retrieval], "NLU data")
    _merge_domain_section(domain_data, "e2e_actions", sorted(stories.bot_texts_used()), "stories")


def check_stories_against_domain(
    stories: StoryData, domain: Domain, *, source: str | None = None
) -> list[str]:
    """Every intent, action and loop a story or rule uses must exist in the domain.

    Raises InvalidDomainError naming the file; returns warnings for what Rasa only warns
    about (slots set in stories that the domain does not define)."""
    _refuse_unknown(
        stories.intents_used() - set(domain.intents),
        "intent",
        "is not listed under 'intents' in the domain",
        source=source,
        key="intents",
    )
    known = set(domain.action_names_or_texts)
    known |= {name.split("/", 1)[0] for name in domain.responses if "/" in name}
    _refuse_unknown(
        stories.actions_used() - known,
        "action",
        "is not defined in the domain: add it under 'responses' (an utter_ action) or 'actions'",
        source=source,
        key="actions",
    )
    loops = {s.name for s in stories.all_steps() if isinstance(s, LoopStep) and s.name}
    _refuse_unknown(
        loops - known, "active_loop", "is not a form of the domain", source=source, key="forms"
    )
    unknown_slots = sorted(stories.slots_used() - set(domain.slot_names))
    where = f" in '{source}'" if source else ""
    return [f"the slot '{slot}' is set in a story{where} but not defined" for slot in unknown_slots]


def _refuse_unknown(
    names: set[str], what: str, problem: str, *, source: str | None, key: str
) -> None:
    """One error listing every unknown name, so a user fixes them all in one go."""
    if not names:
        return
    listed = ", ".join(f"'{name}'" for name in sorted(names))
    raise InvalidDomainError(
        f"the {what} {listed} used in a story or rule {problem}", file=source, key=key
    )


def _nlu_warnings(nlu: NLUTrainingData, domain: Domain) -> list[str]:
    missing = sorted(nlu.intents - set(domain.intents))
    if not missing:
        return []
    return [f"intents {missing} have NLU examples but are not listed in the domain"]


def _merge_stories(parts: list[StoryData]) -> StoryData:
    return StoryData().merge(*parts)


def _stories_empty(stories: StoryData) -> bool:
    return stories.is_empty()
