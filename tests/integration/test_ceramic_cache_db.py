"""The cache-write unit on a real PostgreSQL: soft delete + insert, read-backs, conflicts, duplicates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from scorer_core import db
from scorer_core.cache_rows import CacheRow
from scorer_core.db.ceramic_cache import CacheState, delete_stamps, replace_stamps, visible_stamps
from scorer_core.settings import get_settings
from tools import seed

ADDRESS = "0x00000000000000000000000000000000000000cc"
NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def dsn(clean_db: str) -> Iterator[str]:
    db.close_pool()
    get_settings.cache_clear()
    yield clean_db
    db.close_pool()


def row(provider: str, proof: str = "0x1", **extra: Any) -> CacheRow:
    return CacheRow(
        provider=provider,
        stamp={"proof": {"proofValue": proof}, "credentialSubject": {"provider": provider}},
        proof_value=proof,
        issuance_date=None,
        expiration_date=extra.get("expiration_date"),
        source_app=1,
        source_scorer_id=None,
    )


def all_rows(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT provider, type, proof_value, deleted_at IS NULL, compose_db_save_status, compose_db_stream_id,"
            " source_app, created_at IS NOT NULL FROM ceramic_cache_ceramiccache ORDER BY id"
        ).fetchall()


def replace(providers: list[str], rows: list[CacheRow], *, only_v1: bool = True) -> CacheState:
    return db.run_transaction(
        lambda conn: replace_stamps(conn, ADDRESS, providers, rows, only_v1=only_v1, now=NOW)
    )


def test_replace_soft_deletes_and_inserts_in_one_unit(dsn: str) -> None:
    first = replace([], [row("Google"), row("Ens")])
    assert [s.provider for s in first.stamps] == ["Ens", "Google"] and first.touched == 0
    assert len(first.scoring_rows) == 2
    second = replace(["Google"], [row("Google", "0x2")])
    assert second.touched == 1
    assert [(s.provider, s.stamp["proof"]["proofValue"]) for s in second.stamps] == [
        ("Ens", "0x1"),
        ("Google", "0x2"),
    ]
    rows = all_rows(dsn)
    assert [(r[0], r[2], r[3]) for r in rows] == [
        ("Ens", "0x1", True),
        ("Google", "0x1", False),
        ("Google", "0x2", True),
    ]
    assert all(r[1] == 1 and r[4] == "pending" and r[5] == "" and r[6] == 1 and r[7] for r in rows)


def test_duplicates_in_one_payload_fail_and_roll_back(dsn: str) -> None:
    replace([], [row("Google")])
    with pytest.raises(psycopg.errors.UniqueViolation, match="unique_non_deleted_provider_for_address"):
        replace(["Google"], [row("Google", "a"), row("Google", "b")])
    assert [(r[0], r[2], r[3]) for r in all_rows(dsn)] == [("Google", "0x1", True)]


def test_delete_reports_what_it_matched(dsn: str) -> None:
    replace([], [row("Google"), row("Ens")])
    state = db.run_transaction(lambda conn: delete_stamps(conn, ADDRESS, ["Ens", "Nope"], now=NOW))
    assert state.touched == 1 and [s.provider for s in state.stamps] == ["Google"]
    none = db.run_transaction(lambda conn: delete_stamps(conn, ADDRESS, ["Nope"], now=NOW))
    assert none.touched == 0
    assert db.run_transaction(lambda conn: delete_stamps(conn, ADDRESS, [], now=NOW)).touched == 0


def test_visible_stamps_skip_revoked_and_other_types(dsn: str) -> None:
    replace([], [row("Google"), row("Ens")])
    with psycopg.connect(dsn) as conn:
        found = conn.execute("SELECT id FROM ceramic_cache_ceramiccache WHERE provider = 'Ens'").fetchone()
        assert found is not None
        seed.revoke_ceramic(conn, found[0])
        conn.execute("UPDATE ceramic_cache_ceramiccache SET type = 2 WHERE provider = 'Google'")
        conn.execute(
            "INSERT INTO ceramic_cache_ceramiccache (type, address, provider, stamp, proof_value, updated_at,"
            " compose_db_save_status, compose_db_stream_id) VALUES (1, %s, 'Lens', '{}', 'x', now(), 'pending', '')",
            (ADDRESS,),
        )
    listed = db.run_transaction(lambda conn: visible_stamps(conn, ADDRESS))
    assert [s.provider for s in listed] == ["Lens"] and listed[0].address == ADDRESS
    every_type = db.run_transaction(lambda conn: visible_stamps(conn, ADDRESS, only_v1=False))
    assert [s.provider for s in every_type] == ["Lens", "Google"]


def test_a_writer_that_lost_the_race_runs_again(dsn: str) -> None:
    """A concurrent writer commits the same provider between this write's soft delete and its insert."""
    with psycopg.connect(dsn, autocommit=True) as other:
        other.execute("BEGIN")
        other.execute(
            "INSERT INTO ceramic_cache_ceramiccache (type, address, provider, stamp, proof_value, updated_at,"
            " compose_db_save_status, compose_db_stream_id) VALUES (1, %s, 'Google', '{}', 'x', now(), 'pending', '')",
            (ADDRESS,),
        )

        def work(conn: psycopg.Connection[Any]) -> CacheState:
            # The insert waits for the other transaction; committing it makes this attempt fail and retry.
            import threading

            threading.Timer(0.2, lambda: other.execute("COMMIT")).start()
            return replace_stamps(conn, ADDRESS, ["Google"], [row("Google", "mine")], only_v1=True, now=NOW)

        state = db.run_transaction(work)
    assert [s.stamp["proof"]["proofValue"] for s in state.stamps] == ["mine"]
    assert [(r[2], r[3]) for r in all_rows(dsn)] == [("x", False), ("mine", True)]
