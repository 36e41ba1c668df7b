"""The engine's error types.

Every error a user can cause (a broken bot, a bad archive, malformed events) is an
``EngineError`` with a message that says what to fix; the HTTP layer maps them to
the Rasa error body, the commands print them without a traceback.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base class for every error the engine raises on purpose."""


class BotError(EngineError):
    """A mistake in a bot's files: names the file, the key and what is wrong."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file = file
        self.key = key
        parts = [f"file '{file}'" if file else "", f"key '{key}'" if key else ""]
        where = ", ".join(part for part in parts if part)
        super().__init__(f"{where}: {message}" if where else message)


class InvalidDomainError(BotError):
    """The domain is malformed or inconsistent with the rest of the bot."""


class ConfigError(BotError):
    """``config.yml`` names an unknown component or gives it bad options."""


class EventsValidationError(EngineError):
    """Posted events do not match the events schema."""


class ModelLoadError(EngineError):
    """A model archive is corrupt, too old, or not a model at all."""
