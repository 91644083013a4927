"""Settings follow the reference's parsing rules (django-environ 0.11.2 and exact-string feature flags)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scorer_core.settings import (
    Settings,
    SettingsError,
    env_bool,
    get_settings,
    settings_from,
)


def test_defaults() -> None:
    settings = settings_from({})
    assert settings == Settings()
    assert settings.database_url is None
    assert settings.db_secret_arn is None
    assert settings.trusted_iam_issuers == (
        "did:key:GlMY_1zkc0i11O-wMBWbSiUfIkZiXzFLlAQ89pdfyBA",
        "did:ethr:0xabczyx",
    )
    assert settings.ff_multi_nullifier is False
    assert settings.ff_api_analytics is False
    assert settings.human_points_enabled is False
    assert settings.human_points_mta_enabled is False
    assert settings.ratelimit_enable is False
    assert settings.human_points_start_timestamp == 0
    assert settings.demo_api_scorer_id is None
    assert settings.demo_api_key is None
    assert settings.demo_api_key_aliases == ()
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.passport_api_rate_limiting_form.startswith(
        "https://docs.google.com/forms/d/e/1FAIpQLSeUA"
    )
    assert settings.db_pool_max_size == 2
    assert settings.db_connect_timeout == 5


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("on", True),
        ("off", False),
        ("On", False),
        ("ON", False),
        (" on", False),
        ("true", False),
        ("", False),
    ],
)
def test_feature_flags_are_exactly_on(value: str, expected: bool) -> None:
    settings = settings_from({"FF_MULTI_NULLIFIER": value, "FF_API_ANALYTICS": value})
    assert settings.ff_multi_nullifier is expected
    assert settings.ff_api_analytics is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("True", True),
        (" YES ", True),
        ("on", True),
        ("ok", True),
        ("y", True),
        ("1", True),
        ("2", True),
        ("-1", True),
        (" 7 ", True),
        ("0", False),
        ("00", False),
        ("-0", False),
        ("", False),
        ("false", False),
        ("no", False),
        ("enabled", False),
        ("1.0", False),
    ],
)
def test_booleans_follow_django_environ(value: str, expected: bool) -> None:
    environ = {"HUMAN_POINTS_ENABLED": value, "HUMAN_POINTS_MTA_ENABLED": value, "RATELIMIT_ENABLE": value}
    settings = settings_from(environ)
    assert settings.human_points_enabled is expected
    assert settings.human_points_mta_enabled is expected
    assert settings.ratelimit_enable is expected


@given(st.integers())
def test_any_integer_is_true_iff_non_zero(number: int) -> None:
    assert env_bool(str(number)) is (number != 0)


def test_json_lists() -> None:
    settings = settings_from(
        {"TRUSTED_IAM_ISSUERS": '["did:key:a", "did:key:b"]', "DEMO_API_KEY_ALIASES": '["demo-key"]'}
    )
    assert settings.trusted_iam_issuers == ("did:key:a", "did:key:b")
    assert settings.demo_api_key_aliases == ("demo-key",)
    assert settings_from({"TRUSTED_IAM_ISSUERS": "[]"}).trusted_iam_issuers == ()


@pytest.mark.parametrize("variable", ["TRUSTED_IAM_ISSUERS", "DEMO_API_KEY_ALIASES"])
@pytest.mark.parametrize("value", ["not json", "", "['single quotes']", '{"a": 1}', '"did:key:a"', "[1, 2]"])
def test_malformed_json_names_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        settings_from({variable: value})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HUMAN_POINTS_START_TIMESTAMP", "soon"),
        ("HUMAN_POINTS_START_TIMESTAMP", "1.5"),
        ("HUMAN_POINTS_START_TIMESTAMP", ""),
        ("DB_POOL_MAX_SIZE", "two"),
        ("DB_POOL_MAX_SIZE", "0"),
        ("DB_CONNECT_TIMEOUT", "-1"),
    ],
)
def test_malformed_integers_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        settings_from({variable: value})


def test_integers() -> None:
    settings = settings_from(
        {"HUMAN_POINTS_START_TIMESTAMP": " 1735689600 ", "DB_POOL_MAX_SIZE": "4", "DB_CONNECT_TIMEOUT": "10"}
    )
    assert settings.human_points_start_timestamp == 1735689600
    assert settings.db_pool_max_size == 4
    assert settings.db_connect_timeout == 10


def test_strings_and_empty_optionals() -> None:
    settings = settings_from(
        {
            "DATABASE_URL": "postgresql://u@h/db",
            "DB_SECRET_ARN": "",
            "DEMO_API_SCORER_ID": "335",
            "DEMO_API_KEY": "",
            "REDIS_URL": "redis://cache:6379/1",
            "PASSPORT_API_RATE_LIMITING_FORM": "https://example.org/form",
        }
    )
    assert settings.database_url == "postgresql://u@h/db"
    assert settings.db_secret_arn is None
    assert settings.demo_api_scorer_id == "335"
    assert settings.demo_api_key is None
    assert settings.redis_url == "redis://cache:6379/1"
    assert settings.passport_api_rate_limiting_form == "https://example.org/form"


def test_settings_are_frozen() -> None:
    settings = settings_from({})
    with pytest.raises(ValueError):
        settings.ratelimit_enable = True  # type: ignore[misc]


def test_get_settings_reads_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTED_IAM_ISSUERS", '["did:key:first"]')
    get_settings.cache_clear()
    try:
        first = get_settings()
        monkeypatch.setenv("TRUSTED_IAM_ISSUERS", '["did:key:second"]')
        assert get_settings() is first
        assert first.trusted_iam_issuers == ("did:key:first",)
        get_settings.cache_clear()
        assert get_settings().trusted_iam_issuers == ("did:key:second",)
    finally:
        get_settings.cache_clear()


def test_import_stays_light() -> None:
    """Importing settings must not pull in the database driver, AWS SDKs or the pool (Lambda cold start)."""
    code = (
        "import sys, scorer_core.settings; "
        "heavy = [m for m in ('psycopg', 'psycopg_pool', 'boto3', 'aws_lambda_powertools')"
        " if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_ceramic_cache_settings() -> None:
    assert settings_from({}).ceramic_cache_scorer_id == "1"
    assert settings_from({}).secret_key is None and settings_from({}).secret_key_secret_arn is None
    settings = settings_from(
        {"CERAMIC_CACHE_SCORER_ID": "", "SECRET_KEY": "k", "SECRET_KEY_SECRET_ARN": "arn:x"}
    )
    assert settings.ceramic_cache_scorer_id == "" and settings.secret_key == "k"
    assert settings.secret_key_secret_arn == "arn:x"


def test_malformed_variable_fails_the_handler_import_naming_it() -> None:
    """The handlers read the settings when imported, which in Lambda is the init phase."""
    import subprocess
    import sys
    from pathlib import Path

    env = {"PATH": "/usr/bin:/bin", "DB_POOL_MAX_SIZE": "two", "POWERTOOLS_METRICS_DISABLED": "true"}
    done = subprocess.run(
        [sys.executable, "-c", "import handlers.score"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "SettingsError: DB_POOL_MAX_SIZE" in done.stderr
