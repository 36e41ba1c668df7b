"""slowbot's one custom action: it waits 300 ms on a (pretend) backend, then answers."""

from __future__ import annotations

import asyncio

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

BACKEND_SECONDS = 0.3


class ActionLookup(Action):
    def name(self) -> str:
        return "action_lookup"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        await asyncio.sleep(BACKEND_SECONDS)
        dispatcher.utter_message(text="Here is what I found.")
        return []
