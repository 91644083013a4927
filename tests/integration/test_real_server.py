"""The integration suite runs against a real PostgreSQL server, never a stand-in."""

from __future__ import annotations

import re

import psycopg


def test_the_suite_talks_to_a_real_postgresql(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()
        version = conn.execute("SELECT version()").fetchone()
        number = conn.execute("SHOW server_version_num").fetchone()
    assert server_version is not None and version is not None and number is not None
    assert re.match(r"^\d{2,}\.\d+", server_version[0]), server_version
    assert version[0].startswith("PostgreSQL " + server_version[0].split()[0]), version
    assert int(number[0]) >= 130000, "DROP DATABASE ... WITH (FORCE) and the test helpers need PostgreSQL 13+"
