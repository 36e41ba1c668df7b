"""``rasa data validate``: a bot's domain, NLU data, stories and rules checked against each other.

Each check is a plain function from the leniently read bot (``engine.bot_files``) to findings.
The levels follow Rasa 3.6: what makes Rasa's validator return False whatever the flags is
an error (exit 1), what it only warns about is a warning (exit 1 with ``--fail-on-warnings``),
and what it logs at debug level (an intent no story uses) is a debug finding, shown only when
asked for and never failing. Story conflicts are warnings there (Rasa logs them and fails
only with ``--fail-on-warnings``); rule conflicts are errors here, because training refuses
them. Two warnings differ from Rasa on purpose: an utterance that a form or a default action
sends by itself (``utter_ask_<slot>``, ``utter_default``) is used, and so is a custom action
that a form, a slot mapping or the config names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.bot_files import BotFiles, read_bot_files
from engine.story_conflicts import find_story_conflicts
from engine.training_data.stories import (
    RULE_SNIPPET_ACTION,
    ActionStep,
    LoopStep,
    OrStep,
    SlotStep,
    Step,
    Story,
    UserStep,
)

ERROR, WARNING, DEBUG = "error", "warning", "debug"
DEFAULT_MAX_HISTORY = 5
# Utterances that Rasa's default actions send when the domain defines them.
DEFAULT_ACTION_UTTERANCES = {"utter_default", "utter_ask_rephrase", "utter_restart", "utter_back"}


@dataclass(frozen=True)
class Finding:
    """One problem: its level, where it is (file, file:line or story) and what it is."""

    level: str
    message: str
    where: str = ""

    def __str__(self) -> str:
        where = f"{self.where}: " if self.where else ""
        return f"{self.level.upper()} {where}{self.message}"


@dataclass
class ValidationReport:
    findings: list[Finding]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == WARNING]

    def failed(self, *, fail_on_warnings: bool = False) -> bool:
        """Rasa's exit code 1: any error, or any warning when warnings fail too."""
        return bool(self.errors or (fail_on_warnings and self.warnings))

    def summary(self) -> str:
        return f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"


def validate_bot(path: str | Path, *, max_history: int = DEFAULT_MAX_HISTORY) -> ValidationReport:
    """Read the bot directory and run every check; a malformed file raises BotError."""
    return validate_bot_files(read_bot_files(path), max_history=max_history)


def validate_bot_files(
    bot: BotFiles, *, max_history: int = DEFAULT_MAX_HISTORY
) -> ValidationReport:
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(bot))
    findings.extend(check_story_structure(bot, max_history=max_history))
    return ValidationReport(findings)


# --- the domain ------------------------------------------------------------------------------


def check_domain_not_empty(bot: BotFiles) -> Iterator[Finding]:
    """Rasa stops at once (exit 1) on a domain with nothing in it."""
    domain = bot.domain
    user_slots = [slot for slot in domain.slots if not slot.is_default]
    parts = (domain.user_intents, domain.entities, user_slots, domain.responses, domain.forms)
    if not any(parts) and not _listed_actions(bot):
        yield Finding(ERROR, "the domain is empty", bot.domain_source)


# --- intents ------------------------------------------------------------------------------


def check_intents(bot: BotFiles) -> Iterator[Finding]:
    """Story intents the domain lacks (error), NLU intents the domain lacks (error), domain
    intents without examples (warning) or used by no story or rule (debug)."""
    domain_intents = set(bot.domain.intents)
    used: set[str] = set()
    for story in _stories_and_rules(bot):
        for intent in _unique(s.intent for s in _steps(story) if isinstance(s, UserStep)):
            used.add(intent)
            if intent not in domain_intents:
                yield _in_story(ERROR, story, f"the intent '{intent}' is not listed in the domain")
    examples = bot.nlu.intents
    for intent in sorted(examples - domain_intents):
        yield Finding(
            ERROR,
            f"NLU examples are labelled with the intent '{intent}', which is not listed "
            "in the domain",
            _nlu_file_of(bot, lambda ex, i=intent: ex.intent == i),
        )
    for intent in bot.domain.user_intents:
        if intent not in examples:
            yield Finding(
                WARNING,
                f"the intent '{intent}' is listed in the domain but has no NLU examples",
                bot.domain_source,
            )
        if intent not in used:
            yield Finding(DEBUG, f"the intent '{intent}' is not used in any story or rule")


# --- actions and utterances ----------------------------------------------------------------


def check_actions(bot: BotFiles) -> Iterator[Finding]:
    """Story actions the domain lacks and utter_ actions without a response (errors);
    forms a story activates that the domain lacks (error)."""
    domain = bot.domain
    known = set(domain.action_names_or_texts) | set(domain.form_names)
    utterances = _utterances(bot)
    for story in _stories_and_rules(bot):
        steps = list(_steps(story))
        for name in _unique(s.name for s in steps if isinstance(s, ActionStep)):
            if name == RULE_SNIPPET_ACTION:
                continue
            if name.startswith("utter_") and name not in utterances:
                yield _in_story(ERROR, story, f"the utterance '{name}' has no response")
            elif not name.startswith("utter_") and name not in known:
                yield _in_story(ERROR, story, f"the action '{name}' is not listed in the domain")
        for loop in _unique(s.name for s in steps if isinstance(s, LoopStep)):
            if loop not in domain.forms:
                yield _in_story(ERROR, story, f"the form '{loop}' is not listed in the domain")


def check_unused_actions(bot: BotFiles) -> Iterator[Finding]:
    """Responses and custom actions that nothing uses; utter_ actions listed without a
    response (warnings)."""
    used = _actions_used(bot) | _implied_actions(bot)
    utterances = _utterances(bot)
    for name in sorted(utterances - used):
        yield Finding(
            WARNING, f"the utterance '{name}' is not used in any story or rule", bot.domain_source
        )
    for name in _listed_actions(bot):
        if name.startswith("utter_") and name not in utterances:
            yield Finding(
                WARNING,
                f"the action '{name}' is listed in the domain but has no response",
                bot.domain_source,
            )
        elif name not in used and not name.startswith("utter_"):
            yield Finding(
                WARNING,
                f"the action '{name}' is not used in any story, rule, form or slot mapping",
                bot.domain_source,
            )


def _utterances(bot: BotFiles) -> set[str]:
    """Response names as actions (``utter_faq/ask_name`` is sent by ``utter_faq``)."""
    return {name.split("/", 1)[0] for name in bot.domain.responses}


def _listed_actions(bot: BotFiles) -> list[str]:
    """The domain's ``actions`` section as written (an entry may be ``{name: {options}}``)."""
    names = []
    for item in bot.domain_data.get("actions") or []:
        name = next(iter(item), None) if isinstance(item, dict) else item
        if isinstance(name, str):
            names.append(name)
    return names


def _actions_used(bot: BotFiles) -> set[str]:
    return {
        step.name
        for story in _stories_and_rules(bot)
        for step in _steps(story)
        if isinstance(step, ActionStep) and step.name
    }


def _implied_actions(bot: BotFiles) -> set[str]:
    """Actions run without a story naming them: a form's validation and questions, the
    default actions' utterances, slot mappings' custom actions, the config's fallbacks."""
    domain = bot.domain
    implied = set(DEFAULT_ACTION_UTTERANCES)
    for form in domain.form_names:
        implied.add(f"validate_{form}")
        for slot in domain.required_slots(form):
            implied |= {f"utter_ask_{slot}", f"utter_ask_{form}_{slot}"}
            implied |= {f"action_ask_{slot}", f"action_ask_{form}_{slot}"}
    for slot in domain.slots:
        implied |= {m["action"] for m in slot.mappings if isinstance(m.get("action"), str)}
    for policy in bot.config.policies:
        implied |= {v for k, v in policy.items() if k.endswith("action_name")}
    return implied


# --- NLU examples and entities ---------------------------------------------------------------


def check_examples(bot: BotFiles) -> Iterator[Finding]:
    """The same text labelled with different intents (warning, as Rasa)."""
    labels: dict[str, dict[str, str]] = {}  # text -> intent -> first file
    for source, data in bot.nlu_files:
        for example in data.intent_examples:
            labels.setdefault(example.text, {}).setdefault(str(example.full_intent), source)
    for text, intents in labels.items():
        if len(intents) > 1:
            listed = ", ".join(f"'{intent}' ({file})" for intent, file in sorted(intents.items()))
            yield Finding(
                WARNING,
                f"the example '{text}' is labelled with several intents: {listed}",
                next(iter(intents.values())),
            )


def check_entities(bot: BotFiles) -> Iterator[Finding]:
    """Entities annotated in NLU examples or stories that the domain lacks (warnings)."""
    declared = set(bot.domain.entities)
    seen: set[str] = set()
    for source, data in bot.nlu_files:
        for entity in sorted(data.entities - declared - seen):
            seen.add(entity)
            yield Finding(
                WARNING,
                f"the entity '{entity}' is annotated in NLU examples but not listed in the domain",
                source,
            )
    for story in _stories_and_rules(bot):
        names = (
            e.get("entity") for s in _steps(story) if isinstance(s, UserStep) for e in s.entities
        )
        for entity in _unique(names):
            if entity not in declared:
                yield _in_story(
                    WARNING, story, f"the entity '{entity}' is not listed in the domain"
                )


# --- slots and forms -------------------------------------------------------------------------


def check_slots_and_forms(bot: BotFiles) -> Iterator[Finding]:
    """Forms and slot mappings that name unknown slots, entities, intents or forms; slots
    set in stories that the domain lacks."""
    for form, slot, source in bot.repairs:
        yield Finding(
            ERROR, f"the form '{form}' requires the slot '{slot}', which is not defined", source
        )
    domain = bot.domain
    intents = set(domain.intents)
    for form in domain.form_names:
        for intent in domain.forms[form].get("ignored_intents") or []:
            if intent not in intents:
                yield _in_domain(bot, f"the form '{form}' ignores the unknown intent '{intent}'")
    for slot in domain.slots:
        if not slot.is_default:
            yield from _check_mappings(bot, slot.name, slot.mappings)
    defined = set(domain.slot_names)
    for story in _stories_and_rules(bot):
        for name in _unique(s.name for s in _steps(story) if isinstance(s, SlotStep)):
            if name not in defined:
                yield _in_story(WARNING, story, f"the slot '{name}' is set but not defined")


def _check_mappings(bot: BotFiles, slot: str, mappings: list[dict]) -> Iterator[Finding]:
    domain = bot.domain
    for mapping in mappings:
        entity = mapping.get("entity")
        if mapping.get("type") == "from_entity" and entity not in domain.entities:
            # Rasa refuses to load such a domain.
            yield Finding(
                ERROR,
                f"the slot '{slot}' is mapped from the unknown entity '{entity}'",
                bot.domain_source,
            )
        for key in ("intent", "not_intent"):
            for intent in _as_list(mapping.get(key)):
                if intent not in domain.intents:
                    yield _in_domain(bot, f"the slot '{slot}' maps the unknown intent '{intent}'")
        for condition in mapping.get("conditions") or []:
            yield from _check_condition(bot, slot, mapping, condition)


def _check_condition(bot: BotFiles, slot: str, mapping: dict, condition: dict) -> Iterator[Finding]:
    """Rasa's ``verify_slot_mappings`` (both its findings fail validation), and a
    requested slot that does not exist."""
    domain = bot.domain
    form = condition.get("active_loop")
    requested = condition.get("requested_slot")
    required = domain.required_slots(form) if form else []
    if form is not None and form not in domain.forms:
        yield Finding(
            ERROR,
            f"the slot '{slot}' has a condition on the unknown form '{form}'",
            bot.domain_source,
        )
    elif required and slot not in required and mapping.get("type") != "from_trigger_intent":
        # A trigger intent fills a slot as its form starts, whether the form asks for it or not.
        yield Finding(
            ERROR,
            f"the slot '{slot}' has a condition on the form '{form}', which does not require it",
            bot.domain_source,
        )
    if requested is not None and requested not in domain.slot_names:
        yield _in_domain(
            bot, f"the slot '{slot}' has a condition on the unknown slot '{requested}'"
        )


# --- story structure ---------------------------------------------------------------------------


def check_story_structure(bot: BotFiles, *, max_history: int) -> Iterator[Finding]:
    """Stories (last ``max_history`` turns) or rules (whole) that continue differently."""
    for conflict in find_story_conflicts(bot.stories, bot.domain, max_history=max_history):
        predicted = "; ".join(
            f"'{action}' predicted in {_story_names(names)}"
            for action, names in conflict.predictions
        )
        kind = "Rule" if conflict.is_rule else "Story structure"
        level = ERROR if conflict.is_rule else WARNING
        yield Finding(level, f"{kind} conflict after {conflict.after}: {predicted}", conflict.where)


CHECKS: tuple[Callable[[BotFiles], Iterator[Finding]], ...] = (
    check_domain_not_empty,
    check_intents,
    check_actions,
    check_unused_actions,
    check_examples,
    check_entities,
    check_slots_and_forms,
)


# --- helpers -----------------------------------------------------------------------------------


def _stories_and_rules(bot: BotFiles) -> list[Story]:
    return [*bot.stories.stories, *bot.stories.rules]


def _steps(story: Story) -> Iterator[Step]:
    for step in [*story.conditions, *story.steps]:
        yield from step.alternatives if isinstance(step, OrStep) else (step,)


def _unique(names: Iterator[str | None]) -> list[str]:
    """Each name once, in first-use order (one finding per story and name)."""
    return list(dict.fromkeys(name for name in names if name))


def _in_story(level: str, story: Story, problem: str) -> Finding:
    kind = "rule" if story.is_rule else "story"
    return Finding(level, f"{kind} '{story.name}': {problem}", story.where)


def _story_names(names: list[str]) -> str:
    others = f" and {len(names) - 1} other(s)" if len(names) > 1 else ""
    return f"'{names[0]}'{others}"


def _in_domain(bot: BotFiles, problem: str) -> Finding:
    return Finding(WARNING, problem, bot.domain_source)


def _nlu_file_of(bot: BotFiles, matches: Callable) -> str:
    for source, data in bot.nlu_files:
        if any(matches(example) for example in data.examples):
            return source
    return ""


def _as_list(value: object) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
