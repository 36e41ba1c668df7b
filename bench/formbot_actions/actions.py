"""formbot's custom actions for a rasa-sdk action server: the restaurant form's validation,
as formbot's README describes it (a cuisine from a small database, a positive whole number
of people, "outside"/"inside" read as a boolean seat choice).

    python -m rasa_sdk --actions actions --port 5055     (from this folder)
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher

CUISINES = ("caribbean", "chinese", "french", "greek", "indian", "italian", "mexican")


def is_int(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return True


class ValidateRestaurantForm(FormValidationAction):
    def name(self) -> str:
        return "validate_restaurant_form"

    def validate_cuisine(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        if isinstance(value, str) and value.lower() in CUISINES:
            return {"cuisine": value}
        dispatcher.utter_message(response="utter_wrong_cuisine")
        return {"cuisine": None}

    def validate_num_people(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        if is_int(value) and int(value) > 0:
            return {"num_people": value}
        dispatcher.utter_message(response="utter_wrong_num_people")
        return {"num_people": None}

    def validate_outdoor_seating(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        if not isinstance(value, str):
            return {"outdoor_seating": value}
        if "out" in value:
            # "outside", "outdoors": a string slot holding a boolean, as formbot does
            return {"outdoor_seating": True}
        if "in" in value:
            return {"outdoor_seating": False}
        dispatcher.utter_message(response="utter_wrong_outdoor_seating")
        return {"outdoor_seating": None}
