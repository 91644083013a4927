"""Shared fixtures: one real PostgreSQL database with our schema for the whole test session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from scorer_core import db
from scorer_core.settings import get_settings
from tools import localdb

# Hypothesis' timing checks (per-example deadline, slow input generation) fail at random on a loaded 2-core
# CI machine; they measure the machine, not the code.
hypothesis_settings.register_profile("project", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("project")


def _use_database(url: str | None) -> None:
    """Point the service at ``url``: the settings cache and the pool are built from DATABASE_URL."""
    db.close_pool()
    if url is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database with schema/django_tables.sql, exported as DATABASE_URL; dropped at the end."""
    url = localdb.create_database()
    previous = os.environ.get("DATABASE_URL")
    _use_database(url)
    try:
        yield url
    finally:
        _use_database(previous)
        localdb.drop_database(url)


@pytest.fixture
def clean_db(database_url: str) -> str:
    """The session database with every table emptied and identities restarted, for tests that count rows."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE".encode())
    return database_url
