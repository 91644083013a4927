"""The database access point: a small connection pool, created on first use, and units of work on it.

Shaped for RDS Proxy behind a Lambda that serves one request at a time:
- no prepared statements and no session ``SET``: either would pin the proxy's server connection;
- a connection idle for longer than ``IDLE_CHECK_AFTER_S`` is checked at checkout (the proxy drops client
  connections idle for 1800 s, and a frozen Lambda environment can sit idle for that long); a recently
  used one is not, which saves a round trip per request;
- a connection that turns out dead during a unit of work, before its commit, costs one retry on a fresh
  connection: the transaction died with the connection, so nothing was written;
- a transactional unit runs in one pipeline with explicit BEGIN and COMMIT, so neither costs a round trip of
  its own: statements go out as they are queued, and the client waits only when it fetches a result.

psycopg, the pool and the AWS SDK are imported on first use, not when this module is imported.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from scorer_core.settings import Settings, get_settings

if TYPE_CHECKING:
    import psycopg
    from psycopg import Pipeline
    from psycopg_pool import ConnectionPool

T = TypeVar("T")

APPLICATION_NAME = "passport-score-lambda"
IDLE_CHECK_AFTER_S = 300.0

logger = logging.getLogger(__name__)

_pool: ConnectionPool[psycopg.Connection[Any]] | None = None
# When each pooled connection was last handed back to the pool (monotonic seconds).
_returned_at: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = weakref.WeakKeyDictionary()
_unit_statements = 0
_total_statements = 0
# The pipeline of each connection's running transactional unit (tests run units on several threads).
_pipelines: weakref.WeakKeyDictionary[psycopg.Connection[Any], Pipeline] = weakref.WeakKeyDictionary()


class DeadConnection(Exception):
    """Internal: the connection died while a unit of work ran, before anything was committed."""


Epilogue = Callable[["psycopg.Connection[Any]", T], None]


def run_transaction(
    work: Callable[[psycopg.Connection[Any]], T],
    *,
    commit: bool = True,
    epilogue: Epilogue[T] | None = None,
) -> T:
    """Run ``work(conn)`` in one transaction: commit, or roll back when ``commit=False`` or when it raises.

    The whole unit runs in pipeline mode and the transaction is opened and closed by explicit statements, so
    ``BEGIN`` travels with the work's first statements and ``COMMIT`` with whatever ``epilogue(conn, result)``
    queues: best-effort statements that run after the commit, outside the transaction, in the same round trip.
    An epilogue failure is logged, never raised; it does not run when the unit rolls back.
    """
    return _run_with_retry(work, autocommit=False, commit=commit, epilogue=epilogue)


def run_autocommit(work: Callable[[psycopg.Connection[Any]], T]) -> T:
    """Run ``work(conn)`` outside any transaction: for a best-effort write apart from the request's."""
    return _run_with_retry(work, autocommit=True, commit=True, epilogue=None)


def statement_count() -> int:
    """Statements (cursor ``execute``/``executemany`` calls) sent by the latest unit of work."""
    return _unit_statements


def total_statement_count() -> int:
    """Statements sent by this process since it started, across units of work."""
    return _total_statements


def close_pool() -> None:
    """Close the pool and its connections; the next unit of work creates a new one (tests, shutdown)."""
    global _pool
    pool, _pool = _pool, None
    if pool is not None:
        pool.close()


def pool_created() -> bool:
    return _pool is not None


def _run_with_retry(
    work: Callable[[psycopg.Connection[Any]], T],
    *,
    autocommit: bool,
    commit: bool,
    epilogue: Epilogue[T] | None,
) -> T:
    try:
        return _run_once(work, autocommit=autocommit, commit=commit, epilogue=epilogue)
    except DeadConnection as dead:
        logger.warning("database connection lost before commit, retrying once: %s", dead.__cause__)
    try:
        return _run_once(work, autocommit=autocommit, commit=commit, epilogue=epilogue)
    except DeadConnection as dead:
        assert dead.__cause__ is not None
        raise dead.__cause__ from None


def _run_once(
    work: Callable[[psycopg.Connection[Any]], T],
    *,
    autocommit: bool,
    commit: bool,
    epilogue: Epilogue[T] | None,
) -> T:
    import psycopg

    global _unit_statements
    pool = _get_pool()
    conn = _checkout(pool)
    _unit_statements = 0
    try:
        # Transactions are opened with an explicit BEGIN (see run_transaction), so the session itself
        # stays in autocommit mode and psycopg never sends a BEGIN of its own, in a round trip of its own.
        conn.autocommit = True
        if autocommit:
            try:
                return work(conn)
            except psycopg.OperationalError as exc:
                if conn.broken or conn.closed:
                    raise DeadConnection() from exc
                raise
        return _run_transaction_on(conn, work, commit, epilogue)
    finally:
        _returned_at[conn] = time.monotonic()
        pool.putconn(conn)


def _run_transaction_on(
    conn: psycopg.Connection[Any],
    work: Callable[[psycopg.Connection[Any]], T],
    commit: bool,
    epilogue: Epilogue[T] | None,
) -> T:
    """The whole unit in one pipeline: BEGIN leaves with the work's first batch, COMMIT with the epilogue."""
    import psycopg

    end: psycopg.Cursor[Any] | None = None
    try:
        with conn.pipeline() as pipeline:
            _pipelines[conn] = pipeline
            conn.execute("BEGIN")
            result = work(conn)
            # Sent with the epilogue when the pipeline closes. Not retried if it fails: the server may have
            # committed before the connection dropped.
            end = conn.execute("COMMIT" if commit else "ROLLBACK")
            if commit and epilogue is not None:
                epilogue(conn, result)
    except psycopg.Error as exc:
        if end is None:
            if isinstance(exc, psycopg.OperationalError) and (conn.broken or conn.closed):
                raise DeadConnection() from exc
            _rollback_quietly(conn)
            raise
        if end.pgresult is None or end.statusmessage != "COMMIT":
            raise
        logger.exception("a statement sent after the commit failed; the transaction itself committed")
    except BaseException:
        if end is None:
            _rollback_quietly(conn)
        raise
    finally:
        _pipelines.pop(conn, None)
    return result


def recover(conn: psycopg.Connection[Any]) -> None:
    """After a statement of the unit failed, sync its pipeline so the server accepts statements again.

    The transaction stays open (in its failed state until the caller rolls back to a savepoint).
    """
    import psycopg

    pipeline = _pipelines.get(conn)
    if pipeline is None:
        return
    try:
        pipeline.sync()
    except psycopg.Error:
        logger.debug("errors of already-failed statements ignored while syncing", exc_info=True)


def _rollback_quietly(conn: psycopg.Connection[Any]) -> None:
    import psycopg

    if conn.closed or conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        return
    try:
        conn.execute("ROLLBACK")
    except psycopg.Error:
        logger.warning("rollback failed; the pool will discard the connection", exc_info=True)


def _checkout(pool: ConnectionPool[psycopg.Connection[Any]]) -> psycopg.Connection[Any]:
    """A connection from the pool; one idle long enough to have been dropped is checked first.

    Done here rather than with the pool's ``check`` callback, which sleeps a second between two failed
    checks: both pooled connections of a long-idle environment are stale at once.
    """
    import psycopg
    from psycopg_pool import ConnectionPool

    for _ in range(pool.max_size):
        conn = pool.getconn()
        returned = _returned_at.get(conn)
        if returned is None or time.monotonic() - returned < IDLE_CHECK_AFTER_S:
            return conn
        try:
            ConnectionPool.check_connection(conn)
        except psycopg.Error as exc:
            logger.info("discarding a stale pooled connection: %s", exc)
            pool.putconn(conn)  # broken: the pool closes it and opens a replacement
            continue
        return conn
    return pool.getconn()


def _get_pool() -> ConnectionPool[psycopg.Connection[Any]]:
    global _pool
    if _pool is None:
        _pool = _create_pool(get_settings())
    return _pool


def _create_pool(settings: Settings) -> ConnectionPool[psycopg.Connection[Any]]:
    from psycopg_pool import ConnectionPool

    conninfo: str | Callable[[], str]
    if settings.database_url:
        conninfo = _with_session_options(settings.database_url, settings)
    elif settings.db_secret_arn:
        arn = settings.db_secret_arn

        # Resolved for each new connection (Powertools caches the secret 300 s), so a rotated password is
        # picked up by the next connection the pool opens.
        def conninfo() -> str:
            return _with_session_options(secret_conninfo(arn), settings)

    else:
        raise RuntimeError("no database configured: set DATABASE_URL or DB_SECRET_ARN")

    # No `reset` callback (return times are kept by _run_once instead): with one, the pool hands returned
    # connections to a worker thread, which a frozen Lambda environment may not run before the next request.
    pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=settings.db_pool_max_size,
        kwargs={"prepare_threshold": None, "autocommit": True, "cursor_factory": _counting_cursor_class()},
        timeout=float(settings.db_connect_timeout) * 2,
        name="scorer",
        open=False,
    )
    # Wait for the first connection: a getconn() on a still-empty pool would make it open a second one.
    pool.open(wait=True, timeout=float(settings.db_connect_timeout) * 2)
    return pool


def secret_conninfo(secret_arn: str) -> str:
    """libpq conninfo from a Secrets Manager secret holding host, port, username, password and dbname."""
    from aws_lambda_powertools.utilities import parameters
    from psycopg.conninfo import make_conninfo

    secret = parameters.get_secret(secret_arn, transform="json", max_age=300)
    if not isinstance(secret, dict) or not {"host", "username", "password"} <= secret.keys():
        raise RuntimeError(f"secret {secret_arn} must be JSON with host, port, username, password, dbname")
    return make_conninfo(
        "",
        host=str(secret["host"]),
        port=str(secret.get("port", 5432)),
        user=str(secret["username"]),
        password=str(secret["password"]),
        dbname=str(secret.get("dbname") or secret["username"]),
    )


def _with_session_options(conninfo: str, settings: Settings) -> str:
    """Connection-time options (sent in the startup packet, not as SET commands)."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(
        conninfo, application_name=APPLICATION_NAME, connect_timeout=str(settings.db_connect_timeout)
    )


_cursor_class: type[psycopg.Cursor[Any]] | None = None


def _counting_cursor_class() -> type[psycopg.Cursor[Any]]:
    """A cursor class that counts the statements it sends (defined on first use: psycopg is heavy)."""
    global _cursor_class
    if _cursor_class is None:
        import psycopg

        class CountingCursor(psycopg.Cursor[Any]):
            def execute(self, *args: Any, **kwargs: Any) -> CountingCursor:
                _count_statements(1)
                return super().execute(*args, **kwargs)

            def executemany(self, query: Any, params_seq: Any, *, returning: bool = False) -> None:
                params_seq = list(params_seq)
                _count_statements(len(params_seq))
                super().executemany(query, params_seq, returning=returning)

        _cursor_class = CountingCursor
    return _cursor_class


def _count_statements(n: int) -> None:
    global _unit_statements, _total_statements
    _unit_statements += n
    _total_statements += n
