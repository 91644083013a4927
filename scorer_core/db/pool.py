"""The database access point: a small connection pool, created on first use, and units of work on it.

Shaped for RDS Proxy behind a Lambda that serves one request at a time:
- no prepared statements and no session ``SET``: either would pin the proxy's server connection;
- a connection idle for longer than ``IDLE_CHECK_AFTER_S`` is checked at checkout (the proxy drops client
  connections idle for 1800 s, and a frozen Lambda environment can sit idle for that long); a recently
  used one is not, which saves a round trip per request;
- a connection that turns out dead during a unit of work, before its commit, costs one retry on a new
  connection (the idle ones are closed too: a failover ends them all): the transaction died with the
  connection, so nothing was written;
- connections are opened by the request that needs them, never by a background worker, so an outage costs a
  request at most one connect timeout and the first request after recovery connects at once (``_Pool``);
- a transactional unit runs in one pipeline with explicit BEGIN and COMMIT, so neither costs a round trip of
  its own: statements go out as they are queued, and the client waits only when it fetches a result.

psycopg and the AWS SDK are imported on first use, not when this module is imported.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from scorer_core.settings import Settings, get_settings

if TYPE_CHECKING:
    import psycopg
    from psycopg import Pipeline

T = TypeVar("T")

APPLICATION_NAME = "passport-score-lambda"
IDLE_CHECK_AFTER_S = 300.0

logger = logging.getLogger(__name__)

_pool: _Pool | None = None
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
    give_way_ms: int | None = None,
) -> T:
    """Run ``work(conn)`` in one transaction: commit, or roll back when ``commit=False`` or when it raises.

    ``give_way_ms`` (dry runs) bounds how long the transaction may wait for a lock, run a statement or sit idle
    while open; the server ends it past that, releasing its locks, so no other request waits on it longer. The
    limits are transaction-local (``SET LOCAL``, after ``BEGIN``): nothing stays on the session, so nothing pins
    a proxy's server connection. Such a unit runs statement by statement, outside pipeline mode (more round
    trips, for a dry run only), so that the idle limit applies between its statements.

    The whole unit runs in pipeline mode and the transaction is opened and closed by explicit statements, so
    ``BEGIN`` travels with the work's first statements and ``COMMIT`` with whatever ``epilogue(conn, result)``
    queues: best-effort statements that run after the commit, outside the transaction, in the same round trip.
    An epilogue failure is logged, never raised; it does not run when the unit rolls back.
    """
    return _run_with_retry(work, autocommit=False, commit=commit, epilogue=epilogue, give_way_ms=give_way_ms)


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
    give_way_ms: int | None = None,
) -> T:
    started = time.monotonic()
    try:
        return _run_once(
            work, autocommit=autocommit, commit=commit, epilogue=epilogue, give_way_ms=give_way_ms
        )
    except DeadConnection as dead:
        if time.monotonic() - started >= get_settings().db_connect_timeout:
            # Not a stale connection but a wait that already used up the connect timeout (a proxy's borrow
            # timeout, an outage): a second attempt would only double it.
            assert dead.__cause__ is not None
            raise dead.__cause__ from None
        logger.warning("database connection lost before commit, retrying once: %s", dead.__cause__)
        # On a connection known to be alive: a new one. The idle ones may have died with it (a failover
        # terminates every backend), so they go too.
        _get_pool().discard_idle()
    try:
        return _run_once(
            work, autocommit=autocommit, commit=commit, epilogue=epilogue, give_way_ms=give_way_ms
        )
    except DeadConnection as dead:
        assert dead.__cause__ is not None
        raise dead.__cause__ from None


def _run_once(
    work: Callable[[psycopg.Connection[Any]], T],
    *,
    autocommit: bool,
    commit: bool,
    epilogue: Epilogue[T] | None,
    give_way_ms: int | None = None,
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
        return _run_transaction_on(conn, work, commit, epilogue, give_way_ms)
    finally:
        _returned_at[conn] = time.monotonic()
        pool.putconn(conn)


def _run_transaction_on(
    conn: psycopg.Connection[Any],
    work: Callable[[psycopg.Connection[Any]], T],
    commit: bool,
    epilogue: Epilogue[T] | None,
    give_way_ms: int | None = None,
) -> T:
    """The whole unit in one pipeline: BEGIN leaves with the work's first batch, COMMIT with the epilogue."""
    import psycopg

    end: psycopg.Cursor[Any] | None = None
    try:
        with conn.pipeline() if give_way_ms is None else contextlib.nullcontext() as pipeline:
            if pipeline is not None:
                _pipelines[conn] = pipeline
            conn.execute("BEGIN")
            if give_way_ms is not None:
                # Without a pipeline, each statement ends in a Sync, so between statements the server sees the
                # session idle in its transaction and the idle timeout can end it (inside a pipeline it never
                # would: the server waits for the next message of one long extended-protocol exchange).
                limit = int(give_way_ms)
                for setting in ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout"):
                    conn.execute(f"SET LOCAL {setting} = {limit}".encode())
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


def _checkout(pool: _Pool) -> psycopg.Connection[Any]:
    """A connection from the pool; one idle long enough to have been dropped is checked first."""
    import psycopg

    for _ in range(pool.max_size):
        conn = pool.getconn()
        returned = _returned_at.get(conn)
        if returned is None or time.monotonic() - returned < IDLE_CHECK_AFTER_S:
            return conn
        try:
            conn.execute("SELECT 1")
        except psycopg.Error as exc:
            logger.info("discarding a stale pooled connection: %s", exc)
            pool.putconn(conn)  # broken: the pool closes it
            continue
        return conn
    return pool.getconn()


class _Pool:
    """Up to ``max_size`` connections; idle ones are reused, new ones are opened by the caller, at once.

    Written here rather than taken from psycopg_pool because of what a Lambda needs: psycopg_pool opens
    connections in a background worker that backs off after failures, so after an outage requests kept failing
    until its timer fired, and each waited up to its timeout for that worker. Here a request that needs a
    connection opens it itself: during an outage it fails after one connect timeout, and the first request after
    recovery connects at once. A connection that is broken, closed or left in a transaction is closed on return.
    """

    def __init__(self, conninfo: Callable[[bool], str], max_size: int, timeout: float) -> None:
        self._conninfo = conninfo
        self.max_size = max_size
        self._timeout = timeout
        self._slots = threading.BoundedSemaphore(max_size)
        self._lock = threading.Lock()
        self._idle: list[psycopg.Connection[Any]] = []
        self._closed = False

    def getconn(self) -> psycopg.Connection[Any]:
        import psycopg

        if not self._slots.acquire(timeout=self._timeout):
            raise psycopg.OperationalError("no database connection free within the connect timeout")
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            return conn if conn is not None else self._connect()
        except BaseException:
            self._slots.release()
            raise

    def putconn(self, conn: psycopg.Connection[Any]) -> None:
        import psycopg

        try:
            reusable = (
                not self._closed
                and not conn.closed
                and not conn.broken
                and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            )
            if reusable:
                with self._lock:
                    self._idle.append(conn)
            else:
                conn.close()
        finally:
            self._slots.release()

    def discard_idle(self) -> None:
        """Close every idle connection: after one died, the others (a failover ends them all) are suspect."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def close(self) -> None:
        self._closed = True
        self.discard_idle()

    def _connect(self) -> psycopg.Connection[Any]:
        """Open a connection; when the server refuses, fetch the credentials again once (a rotated secret)."""
        import psycopg

        options: dict[str, Any] = {
            "prepare_threshold": None,
            "autocommit": True,
            "cursor_factory": _counting_cursor_class(),
        }
        conninfo = self._conninfo(False)
        try:
            return psycopg.connect(conninfo, **options)
        except psycopg.OperationalError:
            fresh = self._conninfo(True)
            if fresh == conninfo:
                raise
            logger.warning("database refused the connection; retrying once with credentials fetched again")
            return psycopg.connect(fresh, **options)


def _get_pool() -> _Pool:
    global _pool
    if _pool is None:
        _pool = _create_pool(get_settings())
    return _pool


def _create_pool(settings: Settings) -> _Pool:
    conninfo: Callable[[bool], str]
    if settings.database_url:
        url = _with_session_options(settings.database_url, settings)

        def conninfo(refresh: bool) -> str:
            return url

    elif settings.db_secret_arn:
        arn = settings.db_secret_arn

        # Resolved for each new connection (the secret is cached 300 s), so a rotated password is picked up by
        # the next connection; ``refresh`` (after the server refused one) skips the cache.
        def conninfo(refresh: bool) -> str:
            return _with_session_options(secret_conninfo(arn, refresh=refresh), settings)

    else:
        raise RuntimeError("no database configured: set DATABASE_URL or DB_SECRET_ARN")
    return _Pool(conninfo, settings.db_pool_max_size, float(settings.db_connect_timeout))


def secret_conninfo(secret_arn: str, *, refresh: bool = False) -> str:
    """libpq conninfo from a Secrets Manager secret holding host, port, username, password and dbname.

    DEBUG records are suppressed while the secret is fetched: botocore logs response bodies, the password
    included, at DEBUG, and a DEBUG root logger (or a DEBUG ``botocore`` logger) would otherwise print it.
    """
    from aws_lambda_powertools.utilities import parameters
    from psycopg.conninfo import make_conninfo

    previous = logging.root.manager.disable
    logging.disable(max(previous, logging.DEBUG))
    try:
        secret = parameters.get_secret(secret_arn, transform="json", max_age=300, force_fetch=refresh)
    finally:
        logging.disable(previous)
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
