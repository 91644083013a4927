"""A real server restart, on a throwaway embedded PostgreSQL (never the shared server)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from scorer_core import db
from scorer_core.settings import get_settings
from tests.integration.world import build_world, new_address
from tools import localdb

SCHEMA = Path(__file__).resolve().parents[2] / "schema" / "django_tables.sql"


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[object, str, Path]]:
    pgserver = pytest.importorskip("pgserver")
    pgdata = tmp_path / "pgdata"
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    try:
        admin = server.get_uri()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE faults")
        url = localdb.with_dbname(admin, "faults")
        localdb.load_sql_file(url, SCHEMA)
        yield server, url, pgdata
    finally:
        server.cleanup()


def test_requests_after_a_restart_succeed_at_once(
    embedded: tuple[object, str, Path], configure: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pgserver

    server, url, pgdata = embedded
    previous = os.environ.get("DATABASE_URL")
    db.close_pool()
    configure(DATABASE_URL=url, DB_CONNECT_TIMEOUT="2")
    try:
        world = build_world(url)
        address = new_address()
        world.stamp(address, "Github")
        assert world.score(address).status == 200
        server.cleanup()  # type: ignore[attr-defined]
        down = world.score(address)
        assert down.status == 500
        restarted = pgserver.get_server(pgdata, cleanup_mode="stop")
        try:
            up = world.score(address)
            assert up.status == 200, up.body
            assert up.body["error"] is None
        finally:
            db.close_pool()
            restarted.cleanup()
    finally:
        db.close_pool()
        if previous is not None:
            monkeypatch.setenv("DATABASE_URL", previous)
        get_settings.cache_clear()
