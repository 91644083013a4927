"""The API-usage analytics row: what was asked, what was answered, with secrets masked."""

from __future__ import annotations

from typing import Any

from scorer_core.models import AnalyticsRow
from scorer_core.v2.request import MISSING, ScoreRequest, path_segments

SENSITIVE_HEADERS = frozenset({"x-api-key", "authorization", "cookie"})


def masked_headers(headers: dict[str, Any]) -> dict[str, Any]:
    """Sensitive headers become ``"***"`` whatever their casing (agreed deviation 7)."""
    return {name: ("***" if name.lower() in SENSITIVE_HEADERS else value) for name, value in headers.items()}


def analytics_row(
    request: ScoreRequest,
    api_key_id: str,
    payload: Any,
    response_body: str,
    error: str | None,
    status_code: int,
) -> AnalyticsRow | None:
    """None where the reference's write would fail before reaching the database (no query string or headers, or a
    path that is not text)."""
    if (
        request.query_params is MISSING
        or not isinstance(request.headers, dict)
        or not isinstance(request.path, str)
    ):
        return None
    return AnalyticsRow(
        api_key_id=api_key_id,
        path=request.path,
        path_segments=path_segments(request.path),
        query_params=request.query_params,
        headers=masked_headers(request.headers),
        payload=payload,
        response=response_body,
        error=error,
        status_code=status_code,
    )
