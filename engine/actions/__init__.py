"""Actions by name: default actions, response actions, forms and custom (remote) actions."""

from __future__ import annotations

from engine.actions.action_server import (
    ActionNotFound,
    ActionServerClient,
    ActionServerError,
    HttpActionServer,
    RemoteAction,
)
from engine.actions.base import Action, ActionContext, ActionRejected
from engine.actions.defaults import (
    ActionBack,
    ActionDeactivateLoop,
    ActionDefaultAskAffirmation,
    ActionDefaultAskRephrase,
    ActionDefaultFallback,
    ActionListen,
    ActionRestart,
    ActionRevertFallbackEvents,
    ActionSendText,
    ActionSessionStart,
    ActionUnlikelyIntent,
    EndToEndResponse,
    ResponseAction,
)
from engine.actions.extract_slots import ActionExtractSlots
from engine.actions.forms import FormAction
from engine.actions.loops import TwoStageFallbackAction
from engine.domain import Domain

DEFAULT_ACTION_CLASSES: dict[str, type[Action]] = {
    cls.name: cls
    for cls in (
        ActionListen,
        ActionRestart,
        ActionSessionStart,
        ActionDefaultFallback,
        ActionDeactivateLoop,
        ActionRevertFallbackEvents,
        ActionDefaultAskAffirmation,
        ActionDefaultAskRephrase,
        TwoStageFallbackAction,
        ActionUnlikelyIntent,
        ActionBack,
        ActionSendText,
        ActionExtractSlots,
    )
}

__all__ = [
    "Action",
    "ActionContext",
    "ActionNotFound",
    "ActionRejected",
    "ActionServerClient",
    "ActionServerError",
    "HttpActionServer",
    "action_for_name",
]


def action_for_name(name: str, domain: Domain) -> Action:
    """The action that runs for ``name`` (a custom action when nothing else claims it).

    A name that shadows a default action in the domain's ``actions`` goes to the server,
    as in Rasa (that is how ``action_session_start`` is overridden).
    """
    custom = set(domain.user_actions) - set(domain.responses)
    if name in DEFAULT_ACTION_CLASSES and name not in custom:
        return DEFAULT_ACTION_CLASSES[name]()
    if name in domain.forms and name not in custom:
        return FormAction(name)
    if name.startswith("utter_") and name in domain.responses:
        return ResponseAction(name)
    if name in domain.action_texts:
        return EndToEndResponse(name)
    return RemoteAction(name)
