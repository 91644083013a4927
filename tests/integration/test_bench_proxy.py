"""The benchmark's counting proxy against a real PostgreSQL: round trips are client bursts, statements exact."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from bench.proxy import CountingProxy


@pytest.fixture
def proxy(database_url: str) -> Iterator[CountingProxy]:
    counting = CountingProxy(database_url)
    yield counting
    counting.close()


def connect(
    proxy: CountingProxy, database_url: str, *, autocommit: bool
) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(proxy.dsn_through(database_url), autocommit=autocommit, prepare_threshold=None)


def test_each_statement_waited_for_is_a_round_trip(proxy: CountingProxy, database_url: str) -> None:
    with connect(proxy, database_url, autocommit=True) as conn:
        before = proxy.snapshot()
        for n in range(3):
            assert conn.execute("SELECT %s::int", (n,)).fetchone() == (n,)
        counts = proxy.snapshot().since(before)
    assert counts.round_trips == 3
    assert counts.statements == 3
    assert counts.transactions == 3  # autocommit: each statement is its own transaction
    assert counts.bursts == [["SELECT"], ["SELECT"], ["SELECT"]]


def test_a_pipeline_is_one_round_trip(proxy: CountingProxy, database_url: str) -> None:
    with connect(proxy, database_url, autocommit=True) as conn:
        before = proxy.snapshot()
        with conn.pipeline():
            cursors = [conn.execute("SELECT %s::int", (n,)) for n in range(5)]
        assert [cursor.fetchone() for cursor in cursors] == [(n,) for n in range(5)]
        counts = proxy.snapshot().since(before)
    assert counts.round_trips == 1
    assert counts.by_kind == {"SELECT": 5}


def test_transaction_control_and_large_messages(proxy: CountingProxy, database_url: str) -> None:
    big = "x" * 300_000  # several socket reads, one protocol message
    with connect(proxy, database_url, autocommit=False) as conn:
        before = proxy.snapshot()
        assert conn.execute("SELECT length(%s)", (big,)).fetchone() == (len(big),)
        conn.execute("SAVEPOINT s")
        conn.execute("RELEASE SAVEPOINT s")
        conn.commit()
        counts = proxy.snapshot().since(before)
    assert counts.by_kind == {"BEGIN": 1, "SELECT": 1, "SAVEPOINT": 1, "RELEASE": 1, "COMMIT": 1}
    assert counts.transactions == 1
    assert counts.client_bytes > len(big)
    assert counts.round_trips == len(counts.bursts) >= 4
