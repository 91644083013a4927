"""A PostgreSQL server for tests, the demo and benchmarks, and throwaway databases on it.

Development tooling only: the Lambda never imports this module. The server is, in order of preference,
the one named by ``TEST_DATABASE_URL``, a local server on 127.0.0.1:5432 (trust auth, as on the team's
machines), or an embedded server started with ``pgserver`` so that a bare CI machine needs no PostgreSQL
install. ``LOCALDB_FORCE_EMBEDDED=1`` skips the first two, to exercise the CI path on a developer machine.
"""

from __future__ import annotations

import functools
import os
import secrets
import socket
import urllib.parse
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = PROJECT_ROOT / "schema" / "django_tables.sql"
EMBEDDED_PGDATA = PROJECT_ROOT / ".local" / "pgdata"
LOCAL_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PROBE_TIMEOUT_S = 1.0

# The embedded server stops when the last process holding a handle exits: keep ours alive.
_embedded_server: Any = None


@functools.cache
def admin_dsn() -> str:
    """DSN of a server on which we may create databases (cached per process)."""
    if not _env_flag("LOCALDB_FORCE_EMBEDDED"):
        explicit = os.environ.get("TEST_DATABASE_URL")
        if explicit:
            return explicit
        if _reachable(LOCAL_ADMIN_DSN):
            return LOCAL_ADMIN_DSN
    return _embedded_admin_dsn()


def create_database(name: str | None = None, *, schema: bool = True) -> str:
    """Create a fresh database (loaded with our copy of the Django tables unless ``schema=False``)."""
    name = name or f"scorer_test_{secrets.token_hex(6)}"
    admin = admin_dsn()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = with_dbname(admin, name)
    if schema:
        load_sql_file(dsn, SCHEMA_FILE)
    return dsn


def drop_database(dsn: str) -> None:
    """Drop the database of ``dsn``, ending any session still connected to it."""
    name = dbname_of(dsn)
    maintenance = with_dbname(dsn, dbname_of(admin_dsn()))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def load_sql_file(dsn: str, path: Path) -> None:
    """Run a SQL script in one transaction, skipping psql meta-commands (lines starting with a backslash)."""
    script = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("\\"))
    with psycopg.connect(dsn) as conn:
        # No parameters: psycopg sends the script as one simple query, several statements allowed.
        conn.execute(script.encode())


def with_dbname(dsn: str, dbname: str) -> str:
    """The same connection string pointing at another database (URL or key=value form kept)."""
    if dsn.startswith(("postgresql://", "postgres://")):
        parts = urllib.parse.urlsplit(dsn)
        return urllib.parse.urlunsplit(parts._replace(path="/" + urllib.parse.quote(dbname)))
    params = conninfo_to_dict(dsn)
    params["dbname"] = dbname
    return make_conninfo("", **params)


def dbname_of(dsn: str) -> str:
    """The database a connection string names (libpq's default: the user name)."""
    params = conninfo_to_dict(dsn)
    return str(params.get("dbname") or params.get("user") or "postgres")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _reachable(dsn: str) -> bool:
    """True when a server answers on the DSN's TCP address and lets us in, within about a second."""
    params = conninfo_to_dict(dsn)
    address = (str(params.get("host") or "127.0.0.1"), int(str(params.get("port") or 5432)))
    try:
        with socket.create_connection(address, timeout=PROBE_TIMEOUT_S):
            pass
        # libpq rounds connect_timeout up to 2 s; the TCP probe above already bounded the common case.
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except (OSError, psycopg.Error):
        return False
    return True


def _embedded_admin_dsn() -> str:
    """Start (or join) the embedded server whose data directory lives under .local/ in the project."""
    global _embedded_server
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); it falls back to /tmp.
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    EMBEDDED_PGDATA.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _embedded_server = get_server(EMBEDDED_PGDATA, cleanup_mode="stop")
    uri: str = _embedded_server.get_uri()
    return uri


def main(argv: list[str]) -> int:
    """``python -m tools.localdb dsn`` prints the admin DSN; ``exec -- CMD...`` runs CMD with a server up.

    ``exec`` exports the admin DSN as TEST_DATABASE_URL and PARITY_ADMIN_DSN (unless already set) and keeps
    an embedded server alive until CMD exits: that is how ``make parity`` runs where no PostgreSQL is
    installed.
    """
    import subprocess

    if argv[:1] == ["dsn"]:
        print(admin_dsn())
        return 0
    if argv[:1] == ["exec"] and len(argv) > 1:
        command = argv[2:] if argv[1] == "--" else argv[1:]
        dsn = admin_dsn()
        env = {**os.environ}
        env.setdefault("TEST_DATABASE_URL", dsn)
        env.setdefault("PARITY_ADMIN_DSN", dsn)
        return subprocess.call(command, env=env)
    print("usage: python -m tools.localdb dsn | exec -- COMMAND [ARGS...]")
    return 2


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
