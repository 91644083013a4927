"""The request as the core sees it: transport-neutral, already lifted out of whatever event carried it."""

from __future__ import annotations

import base64
import enum
import json
from dataclasses import dataclass
from typing import Any


class Missing(enum.Enum):
    """Marks a field the event did not carry at all (the reference then writes no analytics row)."""

    MISSING = enum.auto()


MISSING = Missing.MISSING


@dataclass(frozen=True, slots=True)
class ScoreRequest:
    path: str
    headers: dict[str, Any] | None
    query_params: Any | Missing
    body: str | None
    is_base64_encoded: bool
    request_id: str | None = None


def path_arguments(path: str) -> tuple[str, str]:
    """``(scorer_id, address)``: the third-from-last and last path segments, not decoded or trimmed.

    A trailing slash therefore gives the address ``""`` and the scorer id ``"score"``, as in the reference.
    """
    segments = path.split("/")
    return segments[-3], segments[-1]


def path_segments(path: str) -> list[str]:
    return path.split("/")[1:]


def parse_body(body: str | None, is_base64_encoded: bool) -> Any:
    """The JSON body (``{}`` when empty); raises on invalid JSON or base64, which answers 500."""
    if not body:
        return {}
    if is_base64_encoded:
        return json.loads(base64.b64decode(body).decode("utf-8"))
    return json.loads(body)


def demo_scorer_substitute(scorer_id: str, demo_scorer_id: str | None) -> str | None:
    """A negative integer scorer id means the demo scorer (which may be unset)."""
    try:
        if int(scorer_id) < 0:
            return demo_scorer_id
    except ValueError:
        pass
    return scorer_id
