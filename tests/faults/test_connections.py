"""Connections that die: a failover, an outage and its recovery, a drop after COMMIT, a server restart.

Outcomes only: the status and body the client gets, which rows exist, how often the service tried to reach
the database (counted by the proxy), and that the next request is healthy.
"""

from __future__ import annotations

import threading

import psycopg
import pytest

from scorer_core import db
from tests.integration.world import World, new_address

from .proxy import FaultProxy


def _terminate_service_backends(world: World, limit: int | None = None) -> int:
    with world.conn() as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM (SELECT pid FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database() AND pid <> pg_backend_pid()"
            " LIMIT %s) s",
            (db.APPLICATION_NAME, limit),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _open_two_connections() -> None:
    """Two units at once, so the pool holds two connections afterwards."""
    barrier = threading.Barrier(2)

    def work(conn: psycopg.Connection[object]) -> None:
        barrier.wait(timeout=10)

    threads = [threading.Thread(target=db.run_autocommit, args=(work,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.mark.direct_only(
    "the service's own idle connections are what it can check; behind a proxy the server connections that a"
    " failover ends are the proxy's, which may hand the retry another of them"
)
def test_failover_terminating_every_backend_costs_no_request(world: World) -> None:
    address = new_address()
    world.stamp(address, "Github")
    assert world.score(address).status == 200
    _open_two_connections()
    assert _terminate_service_backends(world) >= 2
    response = world.score(address)
    assert response.status == 200, response.body
    assert response.body["error"] is None


def test_single_backend_terminated(world: World) -> None:
    address = new_address()
    world.stamp(address, "Github")
    assert world.score(address).status == 200
    assert _terminate_service_backends(world, limit=1) == 1
    assert world.score(address).status == 200


def test_outage_fails_once_and_recovery_is_immediate(world: World, proxied: FaultProxy) -> None:
    address = new_address()
    world.stamp(address, "Github")
    assert world.score(address).status == 200
    analytics_before = world.count("account_accountapikeyanalytics")

    proxied.faults.refuse = True
    proxied.kill_all()
    attempts = proxied.attempts
    down = world.score(address)
    assert down.status == 500
    assert down.body == {"error": "DB Error: OperationalError"}
    # One new connection tried (the retry after the dead one); nothing else, not the analytics row either.
    assert proxied.attempts - attempts == 1

    proxied.faults.refuse = False
    up = world.score(address)
    assert up.status == 200, up.body
    assert up.body["error"] is None
    assert world.count("account_accountapikeyanalytics") == analytics_before + 1


def test_drop_before_commit_is_retried_on_a_fresh_connection(world: World, proxied: FaultProxy) -> None:
    address = new_address()
    world.stamp(address, "Github")
    assert world.score(address).status == 200
    proxied.drop_after(2)  # the scoring writes never arrive; the retry runs on a new connection
    response = world.score(address)
    assert response.status == 200, response.body
    assert world.count("account_accountapikeyanalytics") == 2
    assert world.score(address).status == 200


def test_drop_after_commit_writes_one_analytics_row(world: World, proxied: FaultProxy) -> None:
    address = new_address()
    world.stamp(address, "Github")
    proxied.faults.drop_after_commit = True
    response = world.score(address)
    proxied.faults.drop_after_commit = False
    assert response.status == 500
    assert response.body == {"error": "DB Error: OperationalError"}
    # The server committed the score; the analytics row that travelled after the COMMIT may or may not have been
    # written before the drop, but no second row (a 500) follows it.
    assert world.rows("SELECT status_code FROM account_accountapikeyanalytics") in (
        [],
        [{"status_code": 200}],
    )
    assert world.rows("SELECT status FROM registry_score") == [{"status": "DONE"}]
    assert world.score(address).status == 200


def test_repeated_outages_each_fail_one_request(world: World, proxied: FaultProxy) -> None:
    address = new_address()
    world.stamp(address, "Github")
    for _ in range(3):
        assert world.score(address).status == 200
        proxied.faults.refuse = True
        proxied.kill_all()
        assert world.score(address).status == 500
        assert world.score(address).status == 500
        proxied.faults.refuse = False
    assert world.score(address).status == 200
