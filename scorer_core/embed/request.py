"""The embed request as the use cases see it, and the rules every embed route applies to it first."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scorer_core.embed.outcome import EmbedError

STAMPS_PATH = re.compile(r"^/internal/embed/stamps/(?P<address>[^/]+)[/]?$")
SCORE_PATH = re.compile(r"^/internal/embed/score/(?P<scorer_id>[^/]+)/(?P<address>[^/]+)[/]?$")


@dataclass(frozen=True, slots=True)
class EmbedRequest:
    path: str
    headers: Mapping[str, str] | None
    body: str | None
    is_base64_encoded: bool
    request_id: str | None = None


def parse_body(request: EmbedRequest) -> Any:
    """The JSON body, ``{}`` when empty; decoding errors are ordinary failures (400 with their text).

    A missing ``isBase64Encoded`` means false (agreed deviation 3).
    """
    if not request.body:
        return {}
    text = request.body
    if request.is_base64_encoded:
        text = base64.b64decode(text).decode("utf-8")
    return json.loads(text)


def path_match(pattern: re.Pattern[str], path: str) -> dict[str, str]:
    """The path's named parts; a path of another shape is the reference's 400, which quotes the pattern."""
    match = pattern.match(path)
    if match is None:
        raise EmbedError(400, f"Invalid path. Expecting values like: '{pattern.pattern}'")
    return match.groupdict()


def demo_scorer(scorer_id: str, demo_scorer_id: str | None) -> str | None:
    """A negative integer scorer id names the demo community (which may be unset); other text stays."""
    try:
        negative = int(scorer_id) < 0
    except ValueError:
        return scorer_id
    return demo_scorer_id if negative else scorer_id
