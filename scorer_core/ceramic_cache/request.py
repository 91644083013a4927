"""What the ceramic-cache use cases share: the request, the answer, body and payload rules, the error mapping.

The reference's ceramic wrapper answers an API exception with its own status and text, a database error with
500 ``DB Error: <category>``, and anything else with **400** ``An error has occurred``; ``answer_for`` is that.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from scorer_core.auth.jwt import InvalidToken, address_from_claims, bearer_token, secret_key, validated_claims
from scorer_core.cache_rows import TooManyStamps
from scorer_core.errors import InternalError, InvalidAddress, RequestError, ScorerNotFound, as_request_error
from scorer_core.pipeline.score_address import Timings
from scorer_core.responses.serialization import error_body
from scorer_core.settings import Settings


@dataclass(frozen=True, slots=True)
class CacheRequest:
    """A ceramic-cache request, lifted out of its event (ALB, REST or HTTP API)."""

    headers: Mapping[str, Any] | None
    query: Mapping[str, Any]
    """Null reads as empty (agreed deviation 15)."""
    body: str | None
    is_base64_encoded: bool


@dataclass(slots=True)
class Answer:
    status: int
    body: str
    description: str = "200 OK"
    score_error: str | None = None
    lifo_attempts: int = 0
    timings: Timings = field(default_factory=Timings)


class CeramicApiError(RequestError):
    """An API exception of the ceramic-cache code: its status and text reach the client."""


class NothingToDelete(CeramicApiError):
    status = 404
    message = "Unable to find stamp to delete."


class ScorerIdNotSet(CeramicApiError):
    status = 500
    message = "Scorer ID not set"


class MisconfiguredScorer(CeramicApiError):
    status = 404
    message = (
        "Community matching the configured scorer id does not exist! This is probably a misconfiguration!"
    )


class UnableToGetScore(CeramicApiError):
    status = 400
    message = "Unable to get score for provided scorer."


class MissingAddressParameter(CeramicApiError):
    """The reference's ``InvalidRequest``: the body says ``Bad request``, the description says why."""

    status = 400
    message = "Bad request"

    def __init__(self) -> None:
        super().__init__("Missing address parameter")


class ScorerUnavailable(CeramicApiError):
    status = 500

    def __init__(self, scorer_id: str) -> None:
        text = f"Unable to retrieve configured scorer! settings.CERAMIC_CACHE_SCORER_ID={scorer_id}"
        super().__init__(text, message=text)


_API_ERRORS = (CeramicApiError, InvalidToken, TooManyStamps, InvalidAddress, ScorerNotFound)


def answer_for(exc: BaseException) -> Answer:
    """The ceramic wrapper's error answer for ``exc``."""
    if isinstance(exc, _API_ERRORS):
        return Answer(exc.status, error_body(exc.message), exc.description)
    if isinstance(exc, psycopg.Error):
        mapped = as_request_error(exc)
        return Answer(mapped.status, error_body(mapped.message), mapped.description)
    description = exc.description if isinstance(exc, InternalError) else str(exc)
    return Answer(400, error_body("An error has occurred"), description)


def authenticated_address(request: CacheRequest, settings: Settings) -> str:
    """The JWT's address, lower-cased (the cache and the pipeline store it so); raises the 401 or a 400."""
    claims = validated_claims(bearer_token(request.headers), secret_key(settings))
    return address_from_claims(claims).lower()


def parse_body(request: CacheRequest) -> Any:
    """The JSON body, ``{}`` when empty; any decoding failure is the generic 400."""
    if not request.body:
        return {}
    if request.is_base64_encoded:
        return json.loads(base64.b64decode(request.body).decode("utf-8"))
    return json.loads(request.body)


@dataclass(frozen=True, slots=True)
class BulkItem:
    provider: str
    stamp: Any = None


def bulk_items(body: Any, *, with_stamp: bool) -> list[BulkItem]:
    """Payload elements ``{address?: str|null, provider: str, stamp?: any}``, validated as pydantic would.

    The reference iterates the body, so an object body yields its keys (and fails unless it is empty).
    """
    items = []
    for element in body:
        if not isinstance(element, dict):
            raise ValueError("payload element is not an object")
        provider = element.get("provider")
        if not isinstance(provider, str):
            raise ValueError("provider must be a string")
        address = element.get("address")
        if address is not None and not isinstance(address, str):
            raise ValueError("address must be a string")
        items.append(BulkItem(provider, element.get("stamp") if with_stamp else None))
    return items


def django_int(value: Any) -> int:
    """An id as Django's integer lookup takes it (``int()`` of it); raises ValueError/TypeError otherwise."""
    if isinstance(value, int):
        return value
    if isinstance(value, float | str):
        return int(value)
    raise TypeError(f"Field 'id' expected a number but got {value!r}.")
