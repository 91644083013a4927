"""Request-level failures and the status/message each one maps to.

The reference answers every failure through one envelope whose status and text depend on the exception kind;
keeping that mapping here lets the handler stay a formatter and the core stay free of HTTP types.
"""

from __future__ import annotations

import psycopg


class RequestError(Exception):
    """A failure that ends the request with an error envelope.

    ``message`` goes into the body (``{"error": message}``); ``description`` is the envelope's
    ``statusDescription`` and the analytics ``error`` column, as the reference uses ``str(exception)``.
    """

    status: int = 500
    message: str = "An error has occurred"

    def __init__(self, description: str | None = None, *, message: str | None = None) -> None:
        self.description = self.message if description is None else description
        if message is not None:
            self.message = message
        super().__init__(self.description)


class InvalidApiKey(RequestError):
    status = 401
    message = "Invalid API Key."


class RateLimited(RequestError):
    """Raised when the key's window is exhausted; its description is empty, as the reference's is."""

    status = 429

    def __init__(self, form_url: str) -> None:
        super().__init__(
            "",
            message=f"You have been rate limited! Use this form to request a rate limit elevation: {form_url}",
        )


class ScorerNotFound(RequestError):
    status = 404
    message = "No scorer matches the given criteria."


class InvalidAddress(RequestError):
    status = 400
    message = "Invalid address."


class InternalError(RequestError):
    """Anything unexpected: 500 with the generic text, the original error text as description."""

    status = 500
    message = "An error has occurred"


_DB_CATEGORIES: tuple[type[psycopg.Error], ...] = (
    psycopg.InterfaceError,
    psycopg.DataError,
    psycopg.OperationalError,
    psycopg.IntegrityError,
    psycopg.InternalError,
    psycopg.ProgrammingError,
    psycopg.NotSupportedError,
)


def as_request_error(exc: BaseException) -> RequestError:
    """Map any exception to the envelope the reference would answer with.

    Driver errors keep their PEP-249 category name (``DB Error: IntegrityError``), because the reference's
    database layer re-raises them as one class per category; anything else is the generic 500.
    """
    if isinstance(exc, RequestError):
        return exc
    if isinstance(exc, psycopg.Error):
        for category in _DB_CATEGORIES:
            if isinstance(exc, category):
                return InternalError(driver_error_text(exc), message=f"DB Error: {category.__name__}")
        return InternalError(driver_error_text(exc))
    return InternalError(str(exc))


def driver_error_text(exc: psycopg.Error) -> str:
    """The error text as the reference's driver renders it: primary message, DETAIL and HINT lines, newline-ended.

    Scoring failures store this text in ``registry_score.error`` and return it in the body, so it must match.
    """
    diag = exc.diag
    primary = diag.message_primary
    if primary is None:
        return str(exc)
    text = primary + "\n"
    if diag.message_detail:
        text += f"DETAIL:  {diag.message_detail}\n"
    if diag.message_hint:
        text += f"HINT:  {diag.message_hint}\n"
    return text
