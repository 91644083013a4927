"""The pool and units of work against a real PostgreSQL: laziness, secrets, dead connections, rollbacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from scorer_core import db
from scorer_core.db import pool
from scorer_core.settings import get_settings
from tools import localdb

ADDRESS = "0x00000000000000000000000000000000000000aa"
COUNT_ROWS = "SELECT count(*) FROM registry_humanpointsmultiplier"


@pytest.fixture
def dsn(clean_db: str) -> Iterator[str]:
    """An empty database and a pool created afresh for each test."""
    db.close_pool()
    get_settings.cache_clear()
    yield clean_db
    db.close_pool()
    get_settings.cache_clear()


def count_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(COUNT_ROWS).fetchone()
    assert row is not None
    return int(row[0])


def insert_row(conn: psycopg.Connection[Any]) -> int:
    conn.execute(
        "INSERT INTO registry_humanpointsmultiplier (address, multiplier) VALUES (%s, 2)", (ADDRESS,)
    )
    row = conn.execute(COUNT_ROWS).fetchone()
    assert row is not None
    return int(row[0])


def backend_pid(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def terminate(dsn: str, pid: int) -> None:
    """End a server process and wait (up to 5 s, server side) until it is gone."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        row = admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()
    assert row == (True,)


def test_commit_persists(dsn: str) -> None:
    assert db.run_transaction(insert_row) == 1
    assert count_rows(dsn) == 1


def test_commit_false_leaves_nothing_behind(dsn: str) -> None:
    assert db.run_transaction(insert_row, commit=False) == 1
    assert count_rows(dsn) == 0


def test_an_exception_rolls_back_and_the_connection_stays_usable(dsn: str) -> None:
    def failing(conn: psycopg.Connection[Any]) -> None:
        insert_row(conn)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        db.run_transaction(failing)
    assert count_rows(dsn) == 0
    assert db.run_transaction(insert_row) == 1


def test_a_database_error_rolls_back(dsn: str) -> None:
    def violating(conn: psycopg.Connection[Any]) -> None:
        insert_row(conn)
        insert_row(conn)  # primary key violation

    with pytest.raises(psycopg.errors.UniqueViolation):
        db.run_transaction(violating)
    assert count_rows(dsn) == 0


def test_autocommit_writes_at_once(dsn: str) -> None:
    assert db.run_autocommit(lambda conn: conn.autocommit) is True
    db.run_autocommit(insert_row)
    assert count_rows(dsn) == 1

    # A transactional unit of work on the same pooled connection runs inside BEGIN ... COMMIT.
    def status(conn: psycopg.Connection[Any]) -> psycopg.pq.TransactionStatus:
        with conn.pipeline():
            conn.execute("SELECT 1")
        return conn.info.transaction_status

    assert db.run_transaction(status) == psycopg.pq.TransactionStatus.INTRANS


def test_a_connection_killed_server_side_is_survived(dsn: str) -> None:
    first_pid = db.run_transaction(backend_pid)
    terminate(dsn, first_pid)
    attempts: list[int] = []

    def work(conn: psycopg.Connection[Any]) -> int:
        attempts.append(1)
        return insert_row(conn)

    assert db.run_transaction(work) == 1
    assert len(attempts) == 1, "the dead connection failed at BEGIN, and the unit ran once on a fresh one"
    assert count_rows(dsn) == 1
    assert db.run_transaction(backend_pid) != first_pid


def test_a_killed_connection_is_survived_by_autocommit_work_too(dsn: str) -> None:
    terminate(dsn, db.run_autocommit(backend_pid))
    db.run_autocommit(insert_row)
    assert count_rows(dsn) == 1


def test_a_long_idle_connection_is_checked_at_checkout(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first_pid = db.run_transaction(backend_pid)
    terminate(dsn, first_pid)
    monkeypatch.setattr(pool, "IDLE_CHECK_AFTER_S", 0.0)
    attempts: list[int] = []

    def work(conn: psycopg.Connection[Any]) -> int:
        attempts.append(1)
        return backend_pid(conn)

    assert db.run_transaction(work) != first_pid
    assert len(attempts) == 1, "the check replaced the dead connection before the work ran"


@pytest.mark.direct_only(
    "kills its own server backend mid-transaction; a proxy may answer that with an error and keep the client"
    " connection open, which is not the dead client connection this test retries"
)
def test_only_one_retry(dsn: str) -> None:
    attempts: list[int] = []

    def always_dies(conn: psycopg.Connection[Any]) -> None:
        attempts.append(1)
        conn.execute("SELECT pg_terminate_backend(pg_backend_pid())").fetchone()

    with pytest.raises(psycopg.OperationalError):
        db.run_transaction(always_dies)
    assert len(attempts) == 2


def test_an_operational_error_on_a_live_connection_is_not_retried(dsn: str) -> None:
    attempts: list[int] = []

    def fails(conn: psycopg.Connection[Any]) -> None:
        attempts.append(1)
        insert_row(conn)
        conn.execute("SET LOCAL statement_timeout = 1")
        conn.execute("SELECT pg_sleep(1)")

    with pytest.raises(psycopg.errors.QueryCanceled):
        db.run_transaction(fails)
    assert len(attempts) == 1
    assert count_rows(dsn) == 0


def test_statements_are_counted_per_unit_of_work(dsn: str) -> None:
    def three_statements(conn: psycopg.Connection[Any]) -> None:
        for _ in range(3):
            conn.execute("SELECT 1")

    def batch(conn: psycopg.Connection[Any]) -> None:
        with conn.cursor() as cur:
            cur.executemany("SELECT %s::int", [(1,), (2,), (3,), (4,)])

    # A transactional unit also sends its BEGIN and COMMIT.
    before = db.total_statement_count()
    db.run_transaction(three_statements)
    assert db.statement_count() == 5
    db.run_transaction(batch)
    assert db.statement_count() == 6
    db.run_autocommit(three_statements)
    assert db.statement_count() == 3
    assert db.total_statement_count() - before == 14


def test_no_prepared_statements_and_an_application_name(dsn: str) -> None:
    def work(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
        for _ in range(10):
            conn.execute("SELECT 1 WHERE %s", (True,))
        prepared = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
        name = conn.execute("SHOW application_name").fetchone()
        assert prepared is not None and name is not None
        return prepared[0], name[0]

    assert db.run_transaction(work) == (0, db.APPLICATION_NAME)


def test_the_secret_path(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """DB_SECRET_ARN alone: the connection comes from a Secrets Manager secret (moto)."""
    from moto import mock_aws

    params = conninfo_to_dict(dsn)
    secret = {
        "host": params.get("host") or "127.0.0.1",
        "port": int(str(params.get("port") or 5432)),
        "username": params.get("user") or "postgres",
        "password": params.get("password") or "",
        "dbname": localdb.dbname_of(dsn),
    }
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        import boto3

        client = boto3.client("secretsmanager", region_name="us-east-1")
        arn = client.create_secret(Name="scorer-test-db", SecretString=json.dumps(secret))["ARN"]
        monkeypatch.delenv("DATABASE_URL")
        monkeypatch.setenv("DB_SECRET_ARN", arn)
        get_settings.cache_clear()
        db.close_pool()
        try:
            database = db.run_transaction(lambda conn: conn.execute("SELECT current_database()").fetchone())
        finally:
            db.close_pool()
            get_settings.cache_clear()
    assert database == (secret["dbname"],)


@pytest.mark.direct_only("counts the server connections a process opens; a proxy keeps its own open")
def test_import_creates_no_pool_and_no_connection(dsn: str) -> None:
    """Importing the module (as a Lambda cold start does) opens nothing; the first unit of work does."""
    child_code = (
        "import sys\n"
        "import scorer_core.db as db\n"
        "print(db.pool_created(), 'psycopg' in sys.modules, 'psycopg_pool' in sys.modules, flush=True)\n"
        "sys.stdin.readline()\n"
        "db.run_transaction(lambda conn: conn.execute('SELECT 1'))\n"
        "print('used', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    env = {**os.environ, "DATABASE_URL": dsn}
    with subprocess.Popen(
        [sys.executable, "-c", child_code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=localdb.PROJECT_ROOT,
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        try:
            assert child.stdout.readline().split() == ["False", "False", "False"]
            assert service_connections(dsn) == 0
            child.stdin.write("\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "used"
            assert service_connections(dsn) == 1
            child.stdin.write("\n")
            child.stdin.flush()
        finally:
            child.communicate(timeout=30)
    assert child.returncode == 0


def service_connections(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            (db.APPLICATION_NAME,),
        ).fetchone()
    assert row is not None
    return int(row[0])
