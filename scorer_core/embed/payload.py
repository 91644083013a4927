"""The save-stamps payload, validated the way the reference's schema validates it (pydantic, lax mode).

pydantic itself does the validation, so ``"12"`` is accepted as scorer id 12 exactly when the reference
accepts it. Then each stamp names its provider in ``credentialSubject.provider``, which must be a string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from scorer_core.embed.outcome import GENERIC_MESSAGE, EmbedError


class _Payload(BaseModel):
    scorer_id: int
    stamps: list[Any]


@dataclass(frozen=True, slots=True)
class SavePayload:
    scorer_id: int
    stamps: list[Any]


def parse_payload(body: Any) -> SavePayload:
    """Raise as the reference does: a non-object body is its ``TypeError``, a bad field the generic 400."""
    if not isinstance(body, dict):
        raise TypeError(
            f"embed.api.AddStampsPayload() argument after ** must be a mapping, not {type(body).__name__}"
        )
    try:
        payload = _Payload(**body)
    except ValidationError as exc:
        raise EmbedError(400, GENERIC_MESSAGE, str(exc)) from exc
    return SavePayload(payload.scorer_id, payload.stamps)


def stamp_providers(stamps: list[Any]) -> list[str]:
    """``credentialSubject.provider`` of each stamp, failing on the first stamp that has none."""
    providers = []
    for stamp in stamps:
        subject = _get(stamp, "credentialSubject", {})
        provider = _get(subject, "provider", None)
        if not isinstance(provider, str):
            raise EmbedError(400, GENERIC_MESSAGE, "provider must be a string")
        providers.append(provider)
    return providers


def _get(value: Any, key: str, default: Any) -> Any:
    """``value.get(key, default)``, failing on a non-object with the text Python gives (the reference's 400)."""
    if not isinstance(value, dict):
        raise AttributeError(f"'{type(value).__name__}' object has no attribute 'get'")
    return value.get(key, default)
