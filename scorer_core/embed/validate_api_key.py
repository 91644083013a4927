"""``GET /internal/embed/validate-api-key``: is this partner key good, and what is its embed tier.

Checked like the v2 route's key (agreed deviation 12): the ``X-API-Key`` header in any casing, revoked and
expired keys refused, the SHA-256 digest when present and PBKDF2 otherwise. Nothing is written, not even the
hash migration the v2 route performs. One statement, so one round trip.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from scorer_core import db
from scorer_core.auth.api_keys import is_usable, key_prefix, presented_key, resolve_demo_alias, verify
from scorer_core.db.api_keys import embed_key_by_prefix
from scorer_core.embed.outcome import EmbedError, EmbedOutcome, error_outcome
from scorer_core.embed.request import EmbedRequest, parse_body
from scorer_core.settings import Settings, get_settings


class InvalidApiKey(EmbedError):
    def __init__(self) -> None:
        super().__init__(401, "Invalid API Key.")


def validate_api_key(request: EmbedRequest, *, settings: Settings | None = None) -> EmbedOutcome:
    settings = settings or get_settings()
    try:
        parse_body(request)  # parsed and ignored, as the reference does: a bad body is still a 400
        key = resolve_demo_alias(
            presented_key(request.headers), settings.demo_api_key_aliases, settings.demo_api_key
        )
        if not key:
            raise InvalidApiKey()
        found = db.run_autocommit(lambda conn: embed_key_by_prefix(conn, key_prefix(key)))
        if found is None:
            raise InvalidApiKey()
        stored, embed_rate_limit = found
        if not is_usable(stored, datetime.now(UTC)) or not verify(key, stored).valid:
            raise InvalidApiKey()
    except Exception as exc:
        return error_outcome(exc)
    return EmbedOutcome(200, _body(embed_rate_limit), "200 OK")


def _body(embed_rate_limit: str | None) -> str:
    payload: dict[str, Any] = {"embed_rate_limit": embed_rate_limit}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
