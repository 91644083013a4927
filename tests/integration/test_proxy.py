"""The service behind PgBouncer in transaction pooling mode, the stand-in for RDS Proxy.

Clients share server connections here, and nothing resets a server connection between two of them: any
session state a request leaves behind (what would pin an RDS Proxy session) is found on the server by the
next look. Each test starts its own PgBouncer, with one server connection, so that every request of the
test runs on the same backend and that backend can be inspected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from handlers import score as score_handler
from scorer_core import db
from scorer_core.settings import get_settings
from tools import credentials, localdb, pgproxy

from .world import EXPIRY, World, new_address, rest_event

Factory = Callable[..., pgproxy.PgBouncer]


@pytest.fixture
def service_proxy(
    pgbouncer_available: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Factory]:
    """Start a PgBouncer (transaction pooling, one server connection unless told) and point the service at it."""
    started: list[pgproxy.PgBouncer] = []

    def start(**settings: Any) -> pgproxy.PgBouncer:
        proxy = pgproxy.PgBouncer(localdb.admin_dsn(), pgproxy.ProxySettings(**{"pool_size": 1, **settings}))
        proxy.start()
        started.append(proxy)
        db.close_pool()
        monkeypatch.setenv("DATABASE_URL", proxy.dsn_through(world.url))
        get_settings.cache_clear()
        return proxy

    yield start
    db.close_pool()
    for proxy in started:
        proxy.stop()
    get_settings.cache_clear()


def dbname(world: World) -> str:
    return localdb.dbname_of(world.url)


def assert_nothing_left(proxy: pgproxy.PgBouncer, world: World) -> int:
    """The one server connection holds no session state, and no backend of the database is mid-transaction."""
    db.close_pool()  # the service's clients go away; the server connection stays in PgBouncer's pool
    [server] = proxy.servers(dbname(world))
    leftovers = pgproxy.server_leftovers(proxy, world.url, db.APPLICATION_NAME)
    assert leftovers == {server["remote_pid"]: {}}
    with psycopg.connect(world.url, autocommit=True) as direct:
        assert direct.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone() == (0,)
        busy = direct.execute(
            "SELECT pid, state FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'"
        ).fetchall()
    assert busy == []
    return int(server["remote_pid"])


def test_no_session_state_is_left_on_the_shared_server_connection(
    world: World, service_proxy: Factory, configure: Callable[..., None]
) -> None:
    configure(DB_POOL_MAX_SIZE="4", HUMAN_POINTS_ENABLED="on")
    proxy = service_proxy()
    passing, clashing, failing = new_address(), new_address(), new_address()
    for provider in ("Github", "Twitter", "Google"):
        world.stamp(passing, provider)
    world.stamp(passing, "Ens", nullifiers=["v0.0.0:proxy-shared"])
    world.stamp(clashing, "Ens", nullifiers=["v0.0.0:proxy-shared"])
    world.stamp(
        failing,
        "Ens",
        vc=credentials.without_field(
            credentials.issue_stamp(failing, "Ens", expiration=EXPIRY), "expirationDate"
        ),
    )
    assert world.score(passing).body["error"] is None
    assert world.score(passing).status == 200  # a re-score
    assert world.score(clashing).body["stamps"]["Ens"]["dedup"] is True
    assert world.score(failing).body["error"] == "'expirationDate'"
    assert world.score(passing, key="not.a-key").status == 401
    assert world.score(passing, community=world.other_community_id).status == 404
    dry = score_handler.handle_event(
        rest_event(f"/v2/stamps/{world.community_id}/score/{passing}", {"x-api-key": world.key}),
        None,
        dry_run=True,
    )
    assert dry["statusCode"] == 200
    # Four clients of one environment at once, on the one server connection.
    barrier = threading.Barrier(4)

    def concurrent(address: str) -> int:
        barrier.wait()
        return world.score(address).status

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(concurrent, [passing, clashing, failing, new_address()])) == [200] * 4

    pid = assert_nothing_left(proxy, world)
    stats = proxy.stats(dbname(world))
    assert int(stats["total_xact_count"]) >= 11, stats  # every request went through that one connection
    assert [s["remote_pid"] for s in proxy.servers(dbname(world))] == [pid]


def test_the_inspection_finds_what_would_pin_a_session(pgbouncer_available: str, clean_db: str) -> None:
    """The check above can fail: a client that leaves each kind of session state behind is caught."""
    with pgproxy.PgBouncer(localdb.admin_dsn(), pgproxy.ProxySettings(pool_size=1)) as proxy:
        through = psycopg.conninfo.make_conninfo(
            proxy.dsn_through(clean_db), application_name=db.APPLICATION_NAME
        )
        with psycopg.connect(through, autocommit=True, prepare_threshold=None) as careless:
            careless.execute("SET work_mem = '8MB'")
            careless.execute("PREPARE leftover AS SELECT 1")
            careless.execute("LISTEN leftover_channel")
            careless.execute("CREATE TEMP TABLE leftover_table (x int)")
            careless.execute("SELECT pg_advisory_lock(4242)")
            with careless.transaction():
                careless.execute("DECLARE leftover_cursor CURSOR WITH HOLD FOR SELECT 1")
            [[pid]] = careless.execute("SELECT pg_backend_pid()").fetchall()
            found = pgproxy.server_leftovers(proxy, clean_db, db.APPLICATION_NAME)
    assert found == {
        pid: {
            "prepared_statements": ["leftover"],
            "cursors": ["leftover_cursor"],
            "listening_channels": ["leftover_channel"],
            "temp_relations": ["leftover_table"],
            "session_settings": ["work_mem=8192"],
            "advisory_locks": ["4242"],
        }
    }


def test_requests_from_several_processes_share_one_server_connection(
    world: World, service_proxy: Factory
) -> None:
    proxy = service_proxy()
    environments, requests = 3, 3
    addresses = [new_address() for _ in range(environments)]
    for address in addresses:
        world.stamp(address, "Github")
    env = {**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    command = [sys.executable, "-m", "tests.integration.proxy_client"]
    children = [
        subprocess.Popen(
            [*command, address, str(world.community_id), world.key, str(requests)],
            cwd=localdb.PROJECT_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for address in addresses
    ]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        reports = [_report(child) for child in children]
        # Every environment is still connected (its pool holds its connection) while we look.
        pools = proxy.pools(dbname(world))
        servers = proxy.servers(dbname(world))
        clients = [c for c in proxy.admin("SHOW CLIENTS") if c["database"] == dbname(world)]
    finally:
        for child in children:
            if child.stdin is not None:
                child.stdin.close()
            child.wait(timeout=30)
    assert [report["statuses"] for report in reports] == [[200] * requests] * environments
    [server] = servers
    assert {pid for report in reports for pid in report["pids"]} == {server["remote_pid"]}
    assert len(clients) >= environments and pools["sv_active"] + pools["sv_idle"] + pools["sv_used"] == 1
    assert all(child.returncode == 0 for child in children)


def _report(child: subprocess.Popen[str]) -> dict[str, Any]:
    """The JSON line a proxy client prints after its requests (any other output is skipped)."""
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith('{"statuses"'):
            report: dict[str, Any] = json.loads(line)
            return report
    raise AssertionError(f"client exited ({child.wait()}) without a report")


def test_a_borrow_timeout_is_a_clear_error_and_writes_nothing(
    world: World,
    service_proxy: Factory,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every server connection is busy for longer than the proxy lets a client wait (RDS Proxy's
    ConnectionBorrowTimeout): the request fails with the driver's error, and no row of it is written."""
    proxy = service_proxy(borrow_timeout_s=1)
    address = new_address()
    world.stamp(address, "Github")
    with psycopg.connect(proxy.dsn_through(world.url), autocommit=True, prepare_threshold=None) as hog:
        hog.execute("BEGIN")
        hog.execute("SELECT 1")  # holds the only server connection until it ends its transaction
        capsys.readouterr()
        response = world.score(address)
        metrics = capsys.readouterr().out
        hog.execute("ROLLBACK")
    assert response.status == 500
    assert response.body == {"error": "DB Error: OperationalError"}
    assert "query_wait_timeout" in caplog.text
    assert '"DatabaseUnavailable"' in metrics  # counted, so an operator sees the proxy is too small
    for table in ("registry_passport", "registry_score", "registry_stamp", "account_accountapikeyanalytics"):
        assert world.count(table) == 0, table
    assert world.score(address).status == 200  # the proxy serves again once the connection is free
