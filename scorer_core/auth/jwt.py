"""The ceramic-cache routes' JWT check: ninja-jwt's rules for an HS256 access token, with PyJWT.

Rules (ninja-jwt 5.3.5 defaults, as the reference configures it): HS256 only, keyed with the Django
``SECRET_KEY``, no audience or issuer, no leeway; PyJWT checks the signature, ``exp``/``iat``/``nbf`` and the
types of ``jti``/``sub``; then ``exp`` must exist, ``jti`` must exist and ``token_type`` must be ``access``. Every
failure is a 401 whose text is the Python repr of ninja-jwt's error detail, byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from scorer_core.errors import RequestError
from scorer_core.settings import Settings

INVALID_OR_EXPIRED = "Token is invalid or expired"
NO_EXP = "Token has no 'exp' claim"
NO_ID = "Token has no id"
NO_TYPE = "Token has no type"
WRONG_TYPE = "Token has wrong type"

SECRET_MAX_AGE_S = 300


class InvalidToken(RequestError):
    """401 with ninja-jwt's detail, rendered as the reference's ``str(detail)`` renders it."""

    status = 401

    def __init__(self, reason: str) -> None:
        text = (
            "{'detail': ErrorDetail(string='Given token not valid for any token type', code='token_not_valid'), "
            "'code': ErrorDetail(string='token_not_valid', code='token_not_valid'), "
            "'messages': [{'token_class': ErrorDetail(string='AccessToken', code='token_not_valid'), "
            "'token_type': ErrorDetail(string='access', code='token_not_valid'), "
            f"'message': ErrorDetail(string={reason!r}, code='token_not_valid')}}]}}"
        )
        self.reason = reason
        super().__init__(text, message=text)


def bearer_token(headers: Mapping[str, Any] | None) -> str:
    """The last space-separated piece of the ``Authorization`` header, in any casing (agreed deviation 13).

    ``Bearer T``, ``Token T`` and a bare ``T`` all give ``T``; no header gives ``""``. Null headers raise, as
    in the reference (its generic 400).
    """
    if headers is None:
        raise TypeError("'NoneType' object is not subscriptable")
    value = headers.get("authorization")
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    return str(value).split(" ")[-1]


def validated_claims(token: str, secret_key: str) -> dict[str, Any]:
    """The token's claims when it is a valid access token; raises ``InvalidToken`` otherwise."""
    import jwt

    now = datetime.now(UTC)
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret_key, algorithms=["HS256"], options={"verify_aud": False}, leeway=0
        )
    except jwt.InvalidTokenError:
        raise InvalidToken(INVALID_OR_EXPIRED) from None
    if "exp" not in claims:
        raise InvalidToken(NO_EXP)
    # ninja-jwt's own expiry check; a non-number ``exp`` that PyJWT let through fails here, as in the reference.
    if datetime.fromtimestamp(claims["exp"], UTC) <= now:
        raise InvalidToken("Token 'exp' claim has expired")
    if "jti" not in claims:
        raise InvalidToken(NO_ID)
    if "token_type" not in claims:
        raise InvalidToken(NO_TYPE)
    if claims["token_type"] != "access":
        raise InvalidToken(WRONG_TYPE)
    return claims


def address_from_claims(claims: Mapping[str, Any]) -> str:
    """The ``did`` claim's last ``:``-separated piece; no format check (the pipeline validates it)."""
    return str(claims["did"].split(":")[-1])


def secret_key(settings: Settings) -> str:
    """``SECRET_KEY`` from the environment (local runs), else from its Secrets Manager secret (AWS).

    Powertools caches the secret for ``SECRET_MAX_AGE_S``, so a rotated key is picked up within minutes.
    """
    if settings.secret_key:
        return settings.secret_key
    if not settings.secret_key_secret_arn:
        raise RuntimeError("no JWT key configured: set SECRET_KEY or SECRET_KEY_SECRET_ARN")
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(settings.secret_key_secret_arn, max_age=SECRET_MAX_AGE_S)
    text = value.decode() if isinstance(value, bytes) else str(value)
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    if isinstance(parsed, dict) and isinstance(parsed.get("SECRET_KEY"), str):
        return str(parsed["SECRET_KEY"])
    return text
