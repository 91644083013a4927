"""PgBouncer in front of the local PostgreSQL: the stand-in for RDS Proxy in tests, benchmarks and the demo.

Development tooling only: the Lambda never imports this module. In AWS every warm Lambda environment keeps
its own small pool, and all of them share the few server connections of RDS Proxy, which lends a server
connection to a client for one transaction unless the session is pinned. PgBouncer in **transaction**
pooling mode behaves that way, and it does not pin: session state a client leaves behind (a ``SET``, a
prepared statement, a temporary table, an advisory lock, ``LISTEN``, a ``WITH HOLD`` cursor) stays on the
server connection and is seen by the next client. So what is safe through PgBouncer's transaction mode is
safe through RDS Proxy without pinning, and the tests can check the server for leftovers.

The instance runs in the foreground as a child of the caller (``with PgBouncer(upstream) as proxy:``) on a
free port of ``PORT_RANGE`` (6400-6499), with trust authentication and one wildcard database entry, so every
database of the upstream server (the tests' per-session ones included) is reachable through it.
``python -m tools.pgproxy exec -- CMD`` runs CMD with one in front of the ``tools.localdb`` server.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

PORT_RANGE = range(6400, 6500)
STARTUP_TIMEOUT_S = 10.0
ADMIN_DATABASE = "pgbouncer"
# Where Debian's package puts the binary; PGBOUNCER names another one.
_CANDIDATES = ("pgbouncer", "/usr/sbin/pgbouncer", "/usr/local/bin/pgbouncer")
PoolMode = Literal["transaction", "session"]


class ProxyUnavailable(RuntimeError):
    """PgBouncer is not installed here (``apt-get install pgbouncer``), or it would not start."""


def find_binary() -> str | None:
    """Path of the pgbouncer executable: ``PGBOUNCER`` when set, else the first one found."""
    explicit = os.environ.get("PGBOUNCER")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for candidate in _CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@dataclass(frozen=True)
class ProxySettings:
    """The PgBouncer knobs that stand for RDS Proxy's.

    ``pool_size`` is the number of server connections (``default_pool_size`` and ``max_db_connections``:
    RDS Proxy's ``MaxConnectionsPercent`` of the database's ``max_connections``); ``borrow_timeout_s`` is how
    long a client waits for one (``query_wait_timeout``: ``ConnectionBorrowTimeout``); ``idle_client_timeout_s``
    closes idle client connections (``client_idle_timeout``: ``IdleClientTimeout``; 0 = never).
    """

    pool_mode: PoolMode = "transaction"
    pool_size: int = 8
    borrow_timeout_s: int = 120
    idle_client_timeout_s: int = 0
    max_client_conn: int = 1000


class PgBouncer:
    """One PgBouncer process in front of ``upstream`` (a libpq URL or key=value string of the server)."""

    def __init__(
        self, upstream: str, settings: ProxySettings | None = None, *, port: int | None = None
    ) -> None:
        binary = find_binary()
        if binary is None:
            raise ProxyUnavailable(
                "pgbouncer is not installed (Debian: apt-get install pgbouncer; or set PGBOUNCER=/path/to/it)"
            )
        self.binary = binary
        self.upstream = conninfo_to_dict(upstream)
        self.settings = settings or ProxySettings()
        self.port = port
        self.user = str(self.upstream.get("user") or "postgres")
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    def __enter__(self) -> PgBouncer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # -- life cycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start it on ``port`` or on a free port of PORT_RANGE, and wait until it accepts connections."""
        if self._process is not None:
            return
        self._dir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        ports = [self.port] if self.port is not None else _free_ports()
        failures = []
        for port in ports[:5]:  # another process may take a free port before PgBouncer binds it
            self.port = port
            self._write_config()
            self._process = subprocess.Popen(
                [self.binary, *self._run_as(), str(self._dir / "pgbouncer.ini")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._wait_until_listening():
                return
            failures.append(f"port {port}: {self.log_tail()}")
            self._process = None
        self._cleanup()
        raise ProxyUnavailable("pgbouncer did not start:\n" + "\n".join(failures))

    def stop(self) -> None:
        """Shut it down (SIGTERM: at once, clients disconnected) and remove its directory."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._cleanup()

    # -- addresses --------------------------------------------------------------------------------------

    def dsn_through(self, dsn: str) -> str:
        """``dsn`` (a database of the upstream server) reached through this proxy instead."""
        assert self.port is not None, "start() first"
        params = conninfo_to_dict(dsn)
        dbname = str(params.get("dbname") or params.get("user") or "postgres")
        user = str(params.get("user") or self.user)
        if dsn.startswith(("postgresql://", "postgres://")):
            return (
                f"postgresql://{urllib.parse.quote(user)}@127.0.0.1:{self.port}/{urllib.parse.quote(dbname)}"
            )
        return make_conninfo("", host="127.0.0.1", port=str(self.port), dbname=dbname, user=user)

    def admin_dsn(self) -> str:
        """The admin console (``SHOW POOLS``, ``SHOW SERVERS``, ...)."""
        assert self.port is not None, "start() first"
        return make_conninfo("", host="127.0.0.1", port=str(self.port), dbname=ADMIN_DATABASE, user=self.user)

    def admin(self, command: str) -> list[dict[str, Any]]:
        """Run one console command; its rows as dicts (the console speaks only the simple query protocol)."""
        with psycopg.connect(
            self.admin_dsn(), autocommit=True, cursor_factory=psycopg.ClientCursor, row_factory=dict_row
        ) as conn:
            cursor = conn.execute(command.encode())
            return cursor.fetchall() if cursor.description else []

    def pools(self, dbname: str) -> dict[str, Any]:
        """The ``SHOW POOLS`` row of one database (zeros when no client has used it yet)."""
        for row in self.admin("SHOW POOLS"):
            if row["database"] == dbname:
                return row
        return {}

    def servers(self, dbname: str) -> list[dict[str, Any]]:
        """The server connections PgBouncer holds for one database (``SHOW SERVERS``)."""
        return [row for row in self.admin("SHOW SERVERS") if row["database"] == dbname]

    def stats(self, dbname: str) -> dict[str, Any]:
        """The ``SHOW STATS`` row of one database: totals since start (transactions, wait time in µs, ...)."""
        for row in self.admin("SHOW STATS"):
            if row["database"] == dbname:
                return row
        return {}

    def log_tail(self, lines: int = 20) -> str:
        if self._dir is None or not (self._dir / "pgbouncer.log").exists():
            return "(no log)"
        return "\n".join((self._dir / "pgbouncer.log").read_text(errors="replace").splitlines()[-lines:])

    # -- internals --------------------------------------------------------------------------------------

    def _write_config(self) -> None:
        assert self._dir is not None and self.port is not None
        s = self.settings
        target = {
            key: str(self.upstream[key])
            for key in ("host", "port", "user", "password")
            if self.upstream.get(key) not in (None, "")
        }
        target.setdefault("host", "127.0.0.1")
        upstream_line = " ".join(f"{key}={_ini_value(value)}" for key, value in target.items())
        config = f"""\
[databases]
* = {upstream_line}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self._dir / "userlist.txt"}
admin_users = {self.user}
pool_mode = {s.pool_mode}
default_pool_size = {s.pool_size}
max_db_connections = {s.pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = {s.max_client_conn}
query_wait_timeout = {s.borrow_timeout_s}
client_idle_timeout = {s.idle_client_timeout_s}
ignore_startup_parameters = extra_float_digits
logfile = {self._dir / "pgbouncer.log"}
pidfile = {self._dir / "pgbouncer.pid"}
log_connections = 0
log_disconnections = 0
"""
        (self._dir / "pgbouncer.ini").write_text(config)
        (self._dir / "userlist.txt").write_text(f'"{self.user}" ""\n')
        owner = self._owner()
        if owner is not None:
            for path in (self._dir, *self._dir.iterdir()):
                os.chown(path, owner.pw_uid, owner.pw_gid)

    def _owner(self) -> pwd.struct_passwd | None:
        """PgBouncer refuses to run as root. As root, it runs as the owner of the upstream's socket directory
        (the embedded server's user can reach its socket), else as ``postgres`` (or ``nobody``)."""
        if os.geteuid() != 0:
            return None
        host = str(self.upstream.get("host") or "")
        if host.startswith("/") and os.path.isdir(host):
            owner = os.stat(host).st_uid
            if owner != 0:
                return pwd.getpwuid(owner)
        for name in ("postgres", "nobody"):
            try:
                return pwd.getpwnam(name)
            except KeyError:
                continue
        raise ProxyUnavailable(
            "running as root and neither a postgres nor a nobody user exists for pgbouncer"
        )

    def _run_as(self) -> list[str]:
        owner = self._owner()
        return ["-u", owner.pw_name] if owner is not None else []

    def _wait_until_listening(self) -> bool:
        assert self._process is not None and self.port is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        self._process.kill()
        self._process.wait()
        return False

    def _cleanup(self) -> None:
        directory, self._dir = self._dir, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


# What pins an RDS Proxy session, as seen from the server connection itself. The inspecting client uses
# the simple query protocol, so it adds no prepared statement or portal of its own. PgBouncer itself sets
# the client's application_name on the server connection it lends (a tracked startup parameter, as it is
# for RDS Proxy): that one value is not a leftover.
_LEFTOVERS = """
SELECT pg_backend_pid() AS pid,
       (SELECT coalesce(array_agg(name ORDER BY name), '{}') FROM pg_prepared_statements) AS prepared_statements,
       (SELECT coalesce(array_agg(name ORDER BY name), '{}') FROM pg_cursors WHERE name <> '') AS cursors,
       (SELECT coalesce(array_agg(c ORDER BY c), '{}') FROM pg_listening_channels() AS c) AS listening_channels,
       (SELECT coalesce(array_agg(relname::text ORDER BY relname), '{}') FROM pg_class
         WHERE relnamespace = pg_my_temp_schema()) AS temp_relations,
       (SELECT coalesce(array_agg(name || '=' || setting ORDER BY name), '{}') FROM pg_settings
         WHERE source = 'session' AND NOT (name = 'application_name' AND setting = %(application_name)s))
         AS session_settings,
       (SELECT coalesce(array_agg(objid::text ORDER BY objid), '{}') FROM pg_locks
         WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory_locks
"""


def server_leftovers(proxy: PgBouncer, dsn: str, application_name: str) -> dict[int, dict[str, list[str]]]:
    """Session state left on each of the proxy's server connections to ``dsn``'s database, by backend pid.

    Holds one transaction per server connection at once, so that every connection of the pool is linked
    to one of the inspecting clients, and asks each backend about itself: prepared statements, open cursors
    (``WITH HOLD``), ``LISTEN`` channels, temporary relations, settings changed by ``SET`` and advisory
    locks. Each backend maps to its non-empty findings: ``{}`` means nothing there would pin a session. Call
    it while no other client uses the database; ``application_name`` must be the one the clients use
    (PgBouncer would otherwise ``SET`` it on the server for the inspecting client).
    """
    dbname = str(conninfo_to_dict(dsn).get("dbname"))
    count = len(proxy.servers(dbname))
    through = make_conninfo(proxy.dsn_through(dsn), application_name=application_name)
    connections = [
        psycopg.connect(through, autocommit=True, cursor_factory=psycopg.ClientCursor, row_factory=dict_row)
        for _ in range(max(count, 1))
    ]
    found: dict[int, dict[str, list[str]]] = {}
    try:
        for conn in connections:
            conn.execute(b"BEGIN")
        for conn in connections:
            row = conn.execute(_LEFTOVERS, {"application_name": application_name}).fetchone()
            assert row is not None
            pid = int(row.pop("pid"))
            found[pid] = {name: list(values) for name, values in row.items() if values}
        for conn in connections:
            conn.execute(b"ROLLBACK")
    finally:
        for conn in connections:
            conn.close()
    return found


def _ini_value(value: str) -> str:
    """A value of a ``[databases]`` line: quoted when it holds spaces or quotes."""
    if value and all(ch not in value for ch in " '\\"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _free_ports() -> list[int]:
    """Ports of PORT_RANGE nobody listens on, in an order that differs per process (parallel runs)."""
    start = os.getpid() % len(PORT_RANGE)
    ordered = [*PORT_RANGE[start:], *PORT_RANGE[:start]]
    free = []
    for port in ordered:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        free.append(port)
        if len(free) == 5:
            break
    if not free:
        raise ProxyUnavailable(f"no free port in {PORT_RANGE.start}-{PORT_RANGE.stop - 1}")
    return free


def main(argv: list[str]) -> int:
    """``exec [--session] [--pool-size N] -- CMD...``: run CMD with PgBouncer in front of the localdb server.

    CMD gets ``PGPROXY_ADMIN_DSN`` (the console) and ``PGPROXY_PORT``, and its ``DATABASE_URL``, when set,
    turned to go through the proxy.
    """
    import argparse

    from tools import localdb

    parser = argparse.ArgumentParser(prog="python -m tools.pgproxy")
    parser.add_argument("action", choices=["exec"])
    parser.add_argument("--session", action="store_true", help="session pooling (default: transaction)")
    parser.add_argument("--pool-size", type=int, default=8, help="server connections (default 8)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    settings = ProxySettings(pool_mode="session" if args.session else "transaction", pool_size=args.pool_size)
    with PgBouncer(localdb.admin_dsn(), settings) as proxy:
        env = {**os.environ, "PGPROXY_ADMIN_DSN": proxy.admin_dsn(), "PGPROXY_PORT": str(proxy.port)}
        if env.get("DATABASE_URL"):
            env["DATABASE_URL"] = proxy.dsn_through(env["DATABASE_URL"])
        print(
            f"pgbouncer: {settings.pool_mode} pooling, {settings.pool_size} server connections, port {proxy.port}"
        )
        return subprocess.call(command, env=env)


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
