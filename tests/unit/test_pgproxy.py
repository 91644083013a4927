"""tools.pgproxy without starting anything: addresses through the proxy and its configuration file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import pgproxy


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pgproxy.PgBouncer:
    fake = tmp_path / "pgbouncer"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PGBOUNCER", str(fake))
    proxy = pgproxy.PgBouncer(
        "postgresql://scorer:s3cret%20word@db.internal:5433/postgres",
        pgproxy.ProxySettings(pool_mode="session", pool_size=3, borrow_timeout_s=7, idle_client_timeout_s=60),
        port=6499,
    )
    monkeypatch.setattr(proxy, "_owner", lambda: None)
    return proxy


def test_a_missing_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PGBOUNCER", str(tmp_path / "absent"))
    assert pgproxy.find_binary() is None
    with pytest.raises(pgproxy.ProxyUnavailable, match="apt-get install pgbouncer"):
        pgproxy.PgBouncer("postgresql://postgres@127.0.0.1:5432/postgres")


def test_addresses_keep_database_and_user(proxy: pgproxy.PgBouncer) -> None:
    assert proxy.dsn_through("postgresql://app@127.0.0.1:5432/scorer_test_1") == (
        "postgresql://app@127.0.0.1:6499/scorer_test_1"
    )
    assert (
        proxy.dsn_through("host=/tmp/sock dbname=other")
        == "host=127.0.0.1 port=6499 dbname=other user=scorer"
    )
    assert proxy.admin_dsn() == "host=127.0.0.1 port=6499 dbname=pgbouncer user=scorer"


def test_the_configuration_maps_the_rds_proxy_knobs(proxy: pgproxy.PgBouncer, tmp_path: Path) -> None:
    proxy._dir = tmp_path
    proxy._write_config()
    ini = (tmp_path / "pgbouncer.ini").read_text()
    assert "* = host=db.internal port=5433 user=scorer password='s3cret word'" in ini
    for line in (
        "listen_port = 6499",
        "pool_mode = session",
        "default_pool_size = 3",
        "max_db_connections = 3",
        "query_wait_timeout = 7",
        "client_idle_timeout = 60",
        "auth_type = trust",
        "admin_users = scorer",
    ):
        assert line in ini.splitlines(), line
    assert (tmp_path / "userlist.txt").read_text() == '"scorer" ""\n'
