"""The service's configuration: read once from the environment into one typed, frozen object.

Variable names and parsing rules are the reference's (django-environ 0.11.2), so an operator can move the
same environment over. Nothing else in the service reads ``os.environ``.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

DEFAULT_TRUSTED_IAM_ISSUERS = (
    "did:key:GlMY_1zkc0i11O-wMBWbSiUfIkZiXzFLlAQ89pdfyBA",
    "did:ethr:0xabczyx",
)
DEFAULT_RATE_LIMITING_FORM = (
    "https://docs.google.com/forms/d/e/1FAIpQLSeUATg0nTE9ws3qESGBktFcOX0brF19iv2L0BLoiub9pbSMeg/viewform"
)
# django-environ's Env.BOOLEAN_TRUE_STRINGS.
_TRUE_STRINGS = frozenset({"true", "on", "ok", "y", "yes", "1"})


class SettingsError(ValueError):
    """A malformed environment variable: raised at startup, naming the variable."""


class Settings(BaseModel):
    # defer_build: the validation schema is built on first use, not at import (cold start).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    database_url: str | None = None
    db_secret_arn: str | None = None
    trusted_iam_issuers: tuple[str, ...] = DEFAULT_TRUSTED_IAM_ISSUERS
    ff_multi_nullifier: bool = False
    ff_api_analytics: bool = False
    human_points_enabled: bool = False
    human_points_mta_enabled: bool = False
    ratelimit_enable: bool = False
    human_points_start_timestamp: int = 0
    demo_api_scorer_id: str | None = None
    demo_api_key: str | None = None
    demo_api_key_aliases: tuple[str, ...] = ()
    redis_url: str = "redis://localhost:6379/0"
    passport_api_rate_limiting_form: str = DEFAULT_RATE_LIMITING_FORM
    db_pool_max_size: int = 2
    db_connect_timeout: int = 5
    secret_key: str | None = None
    """The Django ``SECRET_KEY`` that signs the app's JWTs (local runs); in AWS it comes from the secret below."""
    secret_key_secret_arn: str | None = None
    """Secrets Manager secret holding ``SECRET_KEY`` (its plain text, or JSON with a ``SECRET_KEY`` key)."""
    ceramic_cache_scorer_id: str = "1"
    """The community the ceramic-cache routes score (the reference's Lambdas default it to ``"1"``)."""

    shadow_max_hold_ms: int = 1000


def env_bool(value: str) -> bool:
    """django-environ's bool: an integer is true iff non-zero, else one of its true strings."""
    try:
        return int(value) != 0
    except ValueError:
        return value.lower().strip() in _TRUE_STRINGS


def env_int(value: str) -> int:
    """django-environ's int: Python's ``int()`` of the raw string."""
    return int(value)


def env_json(value: str) -> Any:
    """django-environ's json: ``json.loads`` of the raw string."""
    return json.loads(value)


def feature_flag(value: str) -> bool:
    """The reference compares these flags to the exact string "on" (so "On" is off)."""
    return value == "on"


def string_list(value: str) -> tuple[str, ...]:
    parsed = env_json(value)
    if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
        raise ValueError("expected a JSON list of strings")
    return tuple(parsed)


def positive_int(value: str) -> int:
    parsed = env_int(value)
    if parsed < 1:
        raise ValueError("expected a positive integer")
    return parsed


def _text(value: str) -> str:
    return value


def _optional_text(value: str) -> str | None:
    """django-environ turns an empty value into None when the default is None."""
    return value or None


# Field name -> (environment variable, parser of its raw value). Unset variables keep the field's default.
_SOURCES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "database_url": ("DATABASE_URL", _optional_text),
    "db_secret_arn": ("DB_SECRET_ARN", _optional_text),
    "trusted_iam_issuers": ("TRUSTED_IAM_ISSUERS", string_list),
    "ff_multi_nullifier": ("FF_MULTI_NULLIFIER", feature_flag),
    "ff_api_analytics": ("FF_API_ANALYTICS", feature_flag),
    "human_points_enabled": ("HUMAN_POINTS_ENABLED", env_bool),
    "human_points_mta_enabled": ("HUMAN_POINTS_MTA_ENABLED", env_bool),
    "ratelimit_enable": ("RATELIMIT_ENABLE", env_bool),
    "human_points_start_timestamp": ("HUMAN_POINTS_START_TIMESTAMP", env_int),
    "demo_api_scorer_id": ("DEMO_API_SCORER_ID", _optional_text),
    "demo_api_key": ("DEMO_API_KEY", _optional_text),
    "demo_api_key_aliases": ("DEMO_API_KEY_ALIASES", string_list),
    "redis_url": ("REDIS_URL", _text),
    "passport_api_rate_limiting_form": ("PASSPORT_API_RATE_LIMITING_FORM", _text),
    "db_pool_max_size": ("DB_POOL_MAX_SIZE", positive_int),
    "db_connect_timeout": ("DB_CONNECT_TIMEOUT", positive_int),
    "secret_key": ("SECRET_KEY", _optional_text),
    "secret_key_secret_arn": ("SECRET_KEY_SECRET_ARN", _optional_text),
    "ceramic_cache_scorer_id": ("CERAMIC_CACHE_SCORER_ID", _text),
    "shadow_max_hold_ms": ("SHADOW_MAX_HOLD_MS", positive_int),
}


def settings_from(environ: Mapping[str, str]) -> Settings:
    """Build the settings from an environment mapping; a malformed value raises SettingsError."""
    values: dict[str, Any] = {}
    for field, (variable, parse) in _SOURCES.items():
        raw = environ.get(variable)
        if raw is None:
            continue
        try:
            values[field] = parse(raw)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError too
            raise SettingsError(f"{variable}: cannot parse {raw!r}: {exc}") from exc
    # Every value above is already parsed into its field's type, so the model is constructed without
    # validation: building pydantic's validator costs ~25 ms of the Lambda's cold start and checks nothing more.
    return Settings.model_construct(**values)


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read from ``os.environ`` once (tests call ``get_settings.cache_clear()``)."""
    return settings_from(os.environ)
