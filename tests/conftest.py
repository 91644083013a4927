"""Shared fixtures: one real PostgreSQL database with our schema for the whole test session.

With ``--via-proxy`` (or ``TEST_VIA_PROXY=1``) the service reaches that database through PgBouncer in
transaction pooling mode, the stand-in for RDS Proxy (``tools.pgproxy``), with fewer server connections than
the concurrency tests have clients; the tests' own connections (set-up, inspection) stay direct, so what
they see is the server's state. Tests that are about the direct connection itself carry the marker
``direct_only`` and are skipped there. Tests that start a PgBouncer of their own use ``pgbouncer_available``:
they skip, saying why, where it is not installed, and fail instead when ``TEST_PROXY_REQUIRED=1`` (CI).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from scorer_core import db
from scorer_core.settings import get_settings
from tools import localdb, pgproxy

# Server connections of the suite's proxy: fewer than the concurrency tests' twelve clients, so that
# clients really share them.
PROXY_POOL_SIZE = 4

# Hypothesis' timing checks (per-example deadline, slow input generation) fail at random on a loaded 2-core
# CI machine; they measure the machine, not the code.
hypothesis_settings.register_profile("project", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("project")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--via-proxy",
        action="store_true",
        default=_flag("TEST_VIA_PROXY"),
        help="the service reaches the test database through PgBouncer in transaction mode (TEST_VIA_PROXY=1)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "direct_only(reason): the test needs a direct connection to PostgreSQL"
    )
    if config.getoption("--via-proxy") and pgproxy.find_binary() is None:
        raise pytest.UsageError("--via-proxy / TEST_VIA_PROXY=1 asked for PgBouncer, which is not installed")


def pytest_report_header(config: pytest.Config) -> str:
    if config.getoption("--via-proxy"):
        return (
            f"service database: through PgBouncer, transaction pooling, {PROXY_POOL_SIZE} server connections"
        )
    return "service database: direct to PostgreSQL"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--via-proxy"):
        return
    for item in items:
        marker = item.get_closest_marker("direct_only")
        if marker is not None:
            reason = marker.args[0] if marker.args else "needs a direct connection"
            item.add_marker(pytest.mark.skip(reason=f"direct_only: {reason}"))


@pytest.fixture(scope="session")
def pgbouncer_available() -> str:
    """The pgbouncer binary; skips loudly without one, or fails when TEST_PROXY_REQUIRED=1."""
    binary = pgproxy.find_binary()
    if binary is None:
        message = "pgbouncer is not installed (apt-get install pgbouncer): proxy tests cannot run"
        if _flag("TEST_PROXY_REQUIRED"):
            pytest.fail(message + ", and TEST_PROXY_REQUIRED=1")
        pytest.skip(message)
    return binary


@pytest.fixture(scope="session")
def suite_proxy(request: pytest.FixtureRequest) -> Iterator[pgproxy.PgBouncer | None]:
    """The PgBouncer the service goes through with --via-proxy; None when it talks to PostgreSQL directly."""
    if not request.config.getoption("--via-proxy"):
        yield None
        return
    settings = pgproxy.ProxySettings(pool_mode="transaction", pool_size=PROXY_POOL_SIZE, borrow_timeout_s=60)
    with pgproxy.PgBouncer(localdb.admin_dsn(), settings) as proxy:
        yield proxy


def _use_database(url: str | None) -> None:
    """Point the service at ``url``: the settings cache and the pool are built from DATABASE_URL."""
    db.close_pool()
    if url is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def database_url(suite_proxy: pgproxy.PgBouncer | None) -> Iterator[str]:
    """A fresh database with schema/django_tables.sql; dropped at the end. A direct URL, for the tests.

    The service's DATABASE_URL is exported as ``service_database_url`` gives it: the same database, through
    the suite's proxy when there is one.
    """
    url = localdb.create_database()
    previous = os.environ.get("DATABASE_URL")
    _use_database(suite_proxy.dsn_through(url) if suite_proxy is not None else url)
    try:
        yield url
    finally:
        _use_database(previous)
        localdb.drop_database(url)


@pytest.fixture(scope="session")
def service_database_url(database_url: str, suite_proxy: pgproxy.PgBouncer | None) -> str:
    """The URL the service uses for the session database (through PgBouncer with --via-proxy)."""
    return suite_proxy.dsn_through(database_url) if suite_proxy is not None else database_url


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
