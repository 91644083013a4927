"""SnapStart: the runtime's hooks run in order, leave no connection in the snapshot, and a restored
environment's first request opens a fresh one (checked on the server, by backend pid)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import psycopg
import pytest

from scorer_core import db
from scorer_core.settings import get_settings
from tools import demo
from tools.lambda_context import LambdaContext
from tools.seed import demo_dataset

EVENT = Path(__file__).resolve().parents[2] / "events" / "score_success_rest.json"


@pytest.fixture
def demo_env(clean_db: str) -> Iterator[str]:
    with psycopg.connect(clean_db) as conn:
        data = demo_dataset(conn)
    db.close_pool()
    with mock.patch.dict(os.environ):
        demo.configure_environment(clean_db, data.issuer_did, quiet=True)
        get_settings.cache_clear()
        yield clean_db
    db.close_pool()
    get_settings.cache_clear()


def server_backends(dsn: str) -> set[int]:
    """The service's connections to the test database, as the server sees them."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            (db.APPLICATION_NAME,),
        ).fetchall()
    return {row[0] for row in rows}


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """A closed connection's backend leaves pg_stat_activity when it has exited, a moment later."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def score() -> int:
    from handlers.score import handler

    status: int = handler(json.loads(EVENT.read_text()), LambdaContext())["statusCode"]
    return status


@pytest.mark.direct_only(
    "tells connections apart by server backend pid, which a proxy shares between clients"
)
def test_hooks_close_the_pool_and_the_restored_environment_reconnects(demo_env: str) -> None:
    import snapshot_restore_py
    from awslambdaric import lambda_runtime_hooks_runner

    import handlers.score  # noqa: F401  (its import registers the hooks, as the init phase does)
    from handlers import snapstart

    registered = [entry[0] for entry in snapshot_restore_py.get_before_snapshot()]
    assert snapstart.before_snapshot in registered
    assert snapstart.after_restore in [entry[0] for entry in snapshot_restore_py.get_after_restore()]

    assert score() == 200
    before = server_backends(demo_env)
    assert before, "the request left no pooled connection to snapshot"

    order = mock.Mock()
    with (
        mock.patch.object(snapstart, "get_settings", wraps=get_settings) as settings_spy,
        mock.patch.object(db, "close_pool", wraps=db.close_pool) as close_spy,
    ):
        order.attach_mock(settings_spy, "settings")
        order.attach_mock(close_spy, "close_pool")
        lambda_runtime_hooks_runner.run_before_snapshot()  # what the runtime runs before the snapshot
        assert not db.pool_created()
        assert wait_for(lambda: server_backends(demo_env) == set()), "a connection would be in the snapshot"
        assert all(name in sys.modules for name in snapstart.WARM_IMPORTS)
        lambda_runtime_hooks_runner.run_after_restore()  # and after a restore
    assert order.mock_calls == [mock.call.settings(), mock.call.close_pool(), mock.call.close_pool()]

    assert score() == 200
    after = server_backends(demo_env)
    assert after and not after & before, f"reused backends {after & before}"


def test_hooks_are_harmless_where_the_runtime_module_is_absent() -> None:
    from handlers import snapstart

    with (
        mock.patch.dict("sys.modules", {"snapshot_restore_py": None}),
        mock.patch.object(snapstart, "_registered", False),
    ):
        assert snapstart.register() is False
