"""What an embed use case answers, and how any failure maps to the embed service's error.

The embed service maps exceptions its own way (not the v2 way): an API-level error keeps its status and
message, a database error is a 500 whose message is the raw driver text, and anything else is a **400** whose
message is the exception's first argument (``KeyError('proof')`` gives ``proof``), or the generic text when it
has none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from scorer_core.errors import InternalError, RequestError

GENERIC_MESSAGE = "An error has occurred"


@dataclass(frozen=True, slots=True)
class EmbedOutcome:
    """Status, body text and the envelope's description (``str(exception)`` on errors, as the reference)."""

    status: int
    body: str
    description: str = ""
    score_error: str | None = None
    lifo_attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.status < 400


class EmbedError(Exception):
    """A failure with the status and ``detail`` message the embed service answers."""

    def __init__(self, status: int, message: Any, description: str | None = None) -> None:
        self.status = status
        self.message = message
        self.description = str(message) if description is None else description
        super().__init__(self.description)


class InvalidScorerId(EmbedError):
    def __init__(self) -> None:
        super().__init__(400, "Invalid scorer_id")


class CommunityNotFound(EmbedError):
    def __init__(self) -> None:
        super().__init__(400, "Community matching query does not exist.")


class TooManyStamps(EmbedError):
    def __init__(self) -> None:
        super().__init__(422, "You have submitted too many stamps.")


def as_embed_error(exc: BaseException) -> EmbedError:
    """The embed service's answer to ``exc``."""
    import psycopg  # already loaded by the time anything can fail on the database

    if isinstance(exc, EmbedError):
        return exc
    if isinstance(exc, InternalError):
        # The core's scorer-model failures are ORM lookups in the reference: plain exceptions, so 400.
        return EmbedError(400, exc.description)
    if isinstance(exc, RequestError):
        return EmbedError(exc.status, exc.message, exc.description)
    if isinstance(exc, psycopg.Error):
        from scorer_core.errors import driver_error_text

        text = driver_error_text(exc)
        return EmbedError(500, text)
    message: Any = exc.args[0] if exc.args else GENERIC_MESSAGE
    try:
        json.dumps(message)
    except (TypeError, ValueError):
        # The reference cannot even render this one and crashes; answer the generic 400 instead.
        message = GENERIC_MESSAGE
    return EmbedError(400, message, str(exc))


def error_outcome(exc: BaseException) -> EmbedOutcome:
    error = as_embed_error(exc)
    return EmbedOutcome(error.status, error_body(error.message), error.description)


def error_body(message: Any) -> str:
    """``json.dumps`` defaults: spaced separators, ASCII escapes, as the reference renders errors."""
    return json.dumps({"detail": message})
