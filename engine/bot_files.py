"""A bot directory read for the authoring tools (``validate``, ``visualize``): leniently.

``engine.project.load_project`` refuses a bot whose stories use an intent or action the
domain lacks, because training cannot go on. The authoring tools must go on: their job is
to list every such mistake. So this module reads the same files with the same readers and
merging (the project's own helpers, so both see the same bot), keeps each NLU file apart
(a duplicate example is reported with its files), and leaves every cross-check to
``engine.validation``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import BotConfig
from engine.domain import Domain
from engine.project import read_bot_sources, sync_domain_with_data
from engine.training_data.nlu import NLUTrainingData
from engine.training_data.stories import StoryData


@dataclass
class BotFiles:
    """A bot's config, domain, NLU data (per file) and stories, not checked against each other.

    ``domain_data`` is the merged domain as written; ``domain`` is built from it after
    ``repairs`` (what had to be dropped so that a domain could be built at all)."""

    root: Path
    config: BotConfig
    domain_data: dict[str, Any]
    domain: Domain
    domain_source: str
    nlu_files: list[tuple[str, NLUTrainingData]] = field(default_factory=list)
    stories: StoryData = field(default_factory=StoryData)
    repairs: list[tuple[str, str, str]] = field(default_factory=list)  # (form, slot, source)

    @property
    def nlu(self) -> NLUTrainingData:
        return NLUTrainingData().merge(*(data for _, data in self.nlu_files))


def read_bot_files(path: str | Path) -> BotFiles:
    """Read a Rasa bot directory without cross-checks; malformed files still raise BotError."""
    sources = read_bot_sources(path)
    stories = StoryData()
    for _, _, file_stories in sources.data_files:
        stories = stories.merge(file_stories)
    nlu_files = [(name, nlu) for name, nlu, _ in sources.data_files]
    merged_nlu = NLUTrainingData().merge(*(data for _, data in nlu_files))
    domain_data, domain_source = sources.domain_data, sources.domain_source
    sync_domain_with_data(domain_data, merged_nlu, stories)
    buildable, repairs = _without_unknown_form_slots(domain_data, domain_source)
    domain = Domain.from_dict(buildable, source=domain_source)
    return BotFiles(
        sources.root,
        sources.config,
        domain_data,
        domain,
        domain_source,
        nlu_files,
        stories,
        repairs,
    )


def _without_unknown_form_slots(
    domain_data: dict[str, Any], source: str
) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """The domain minus form slots that no slot defines (``Domain`` refuses those; validation
    reports them and carries on with the rest)."""
    slots = domain_data.get("slots")
    declared = set(slots) if isinstance(slots, dict) else set()
    forms = domain_data.get("forms")
    if not isinstance(forms, dict):
        return domain_data, []
    data = copy.deepcopy(domain_data)
    repairs = []
    for name, form in data["forms"].items():
        required = form.get("required_slots") if isinstance(form, dict) else None
        if not isinstance(required, list):
            continue  # a malformed form: the Domain names it
        for slot in [s for s in required if isinstance(s, str) and s not in declared]:
            repairs.append((str(name), slot, source))
            required.remove(slot)
    return data, repairs
