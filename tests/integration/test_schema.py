"""Our schema/django_tables.sql must stay equivalent to the reference dump the parity data was recorded on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tools import localdb

REFERENCE_SCHEMA = localdb.PROJECT_ROOT.parent / "shared" / "parity" / "reference_schema_scoring.sql"

Catalog = dict[str, set[tuple[object, ...]]]

CATALOG_QUERIES = {
    "columns": """
        SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               a.attidentity, pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
          AND a.attnum > 0 AND NOT a.attisdropped
    """,
    "identity sequences": """
        SELECT c.relname, a.attname, s.seqrelid::regclass::text, s.seqtypid::regtype::text, s.seqstart,
               s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_depend dep ON dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum AND dep.deptype = 'i'
        JOIN pg_sequence s ON s.seqrelid = dep.objid
        WHERE c.relnamespace = 'public'::regnamespace
    """,
    "constraints": """
        SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), k.condeferrable, k.condeferred
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        WHERE k.connamespace = 'public'::regnamespace
    """,
    "indexes": """
        SELECT c.relname, i.relname, pg_get_indexdef(x.indexrelid)
        FROM pg_index x
        JOIN pg_class c ON c.oid = x.indrelid
        JOIN pg_class i ON i.oid = x.indexrelid
        WHERE c.relnamespace = 'public'::regnamespace
    """,
    "other objects": """
        SELECT relkind::text, relname FROM pg_class
        WHERE relnamespace = 'public'::regnamespace AND relkind NOT IN ('r', 'i', 'S')
    """,
}


def read_catalog(conn: psycopg.Connection[Any]) -> Catalog:
    return {name: set(conn.execute(query).fetchall()) for name, query in CATALOG_QUERIES.items()}


def catalog_of(dsn: str) -> Catalog:
    with psycopg.connect(dsn) as conn:
        return read_catalog(conn)


def catalog_differences(expected: Catalog, actual: Catalog) -> list[str]:
    """Human-readable lines: what the reference has that we lack (-) and what we have in excess (+)."""
    lines: list[str] = []
    for name in CATALOG_QUERIES:
        lines += [f"{name} - {row}" for row in sorted(expected[name] - actual[name], key=repr)]
        lines += [f"{name} + {row}" for row in sorted(actual[name] - expected[name], key=repr)]
    return lines


@pytest.fixture(scope="module")
def two_schemas() -> Iterator[tuple[str, str]]:
    """A database loaded from the reference dump and one loaded from our schema file."""
    if not REFERENCE_SCHEMA.exists():
        pytest.skip(f"reference schema not present at {REFERENCE_SCHEMA}")
    reference = localdb.create_database(schema=False)
    ours = localdb.create_database()
    try:
        localdb.load_sql_file(reference, REFERENCE_SCHEMA)
        yield reference, ours
    finally:
        localdb.drop_database(reference)
        localdb.drop_database(ours)


def test_schema_matches_reference(two_schemas: tuple[str, str]) -> None:
    reference, ours = two_schemas
    expected = catalog_of(reference)
    assert len(expected["columns"]) > 100, "the reference catalog looks empty"
    assert catalog_differences(expected, catalog_of(ours)) == []


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        ("ALTER TABLE registry_score ALTER COLUMN error SET NOT NULL", "columns"),
        ("ALTER TABLE registry_stamp ALTER COLUMN provider TYPE varchar(255)", "columns"),
        ("ALTER TABLE registry_event ALTER COLUMN id SET CACHE 10", "identity sequences"),
        (
            "ALTER TABLE registry_hashscorerlink"
            " DROP CONSTRAINT registry_hashscorerlink_hash_community_id_ea7e08a6_uniq",
            "constraints",
        ),
        (
            "ALTER TABLE registry_passport ALTER CONSTRAINT"
            " registry_passport_community_id_1524ae17_fk_account_community_id NOT DEFERRABLE",
            "constraints",
        ),
        ("DROP INDEX registry_stamp_passport_id_a0a2c334", "indexes"),
        ("CREATE INDEX extra_idx ON registry_event (address)", "indexes"),
        ("CREATE VIEW extra_view AS SELECT 1 AS one", "other objects"),
    ],
)
def test_comparison_catches_a_difference(two_schemas: tuple[str, str], change: str, kind: str) -> None:
    """Guards the guard: each kind of drift from the reference must show up in the comparison."""
    _, ours = two_schemas
    with psycopg.connect(ours) as conn:
        before = read_catalog(conn)
        # DDL is transactional in PostgreSQL: the change is rolled back when the block ends.
        conn.execute(change.encode())
        differences = catalog_differences(before, read_catalog(conn))
        conn.rollback()
    assert differences, f"no difference reported after: {change}"
    assert any(line.startswith(kind + " ") for line in differences), differences
