"""The embed success bodies: ``{"success":true,"stamps":[...],"score":{...}}``, compact, keys in schema order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def stamps_with_score(rows: Sequence[Sequence[Any]], score_body: str) -> str:
    """``rows`` are ``(id, address, provider, stamp)``; ``score_body`` the rendered v2 score object."""
    stamps = [{"id": r[0], "address": r[1], "provider": r[2], "stamp": r[3]} for r in rows]
    listed = json.dumps(stamps, separators=(",", ":"), ensure_ascii=False)
    return f'{{"success":true,"stamps":{listed},"score":{score_body}}}'
