"""Actions for the tests: formbot's form validation and a few with special behaviour."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ReminderCancelled, ReminderScheduled, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import ActionExecutionRejection


class ValidateRestaurantForm(FormValidationAction):
    def name(self) -> str:
        return "validate_restaurant_form"

    def validate_num_people(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = -1.0
        if number > 0:
            return {"num_people": number}
        dispatcher.utter_message(response="utter_wrong_num_people")
        return {"num_people": None}


class ActionSetName(Action):
    def name(self) -> str:
        return "action_set_name"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        dispatcher.utter_message(text=f"Hello {tracker.sender_id}", buttons=[])
        return [SlotSet("cuisine", "from the server")]


class ActionReject(Action):
    def name(self) -> str:
        return "action_reject"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        raise ActionExecutionRejection("action_reject", "not now")


class ActionSlow(Action):
    def name(self) -> str:
        return "action_slow"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        time.sleep(2)
        return [SlotSet("cuisine", "too late")]


class ActionEchoDomain(Action):
    def name(self) -> str:
        return "action_echo_domain"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        dispatcher.utter_message(text=f"domain has {len(domain or {})} sections")
        return []


class ActionRemind(Action):
    def name(self) -> str:
        return "action_remind"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        when = datetime.now(UTC) + timedelta(seconds=30)
        return [
            ReminderScheduled("greet", when, name="soon", kill_on_user_message=False),
            ReminderScheduled("greet", when, name="never"),
            ReminderCancelled(name="never"),
        ]


class ActionGate(Action):
    """Holds its turn in the middle of an action call until the test opens the gate.

    It touches ``<ACTIONS_GATE_DIR>/<sender>.entered`` when called, then waits for the
    file ``<ACTIONS_GATE_DIR>/<sender>.open``.
    """

    def name(self) -> str:
        return "action_gate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        # Asynchronous, so that the server answers other calls while this one waits.
        gates = Path(os.environ["ACTIONS_GATE_DIR"])
        (gates / f"{tracker.sender_id}.entered").touch()
        deadline = time.monotonic() + 60
        while not (gates / f"{tracker.sender_id}.open").exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        dispatcher.utter_message(text="through the gate")
        return [SlotSet("cuisine", "gated")]
