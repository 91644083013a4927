"""The row factories write rows the real schema accepts, with the values the service will read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tools import credentials, seed
from tools.credentials import issue_stamp, without_field

ADDRESS = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"
EXPIRATION = "2031-03-04T05:06:07.891Z"
ROW_COUNTS = (
    "SELECT (SELECT count(*) FROM ceramic_cache_ceramiccache), (SELECT count(*) FROM account_community),"
    " (SELECT count(*) FROM account_accountapikey)"
)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """One transaction per test, rolled back, with foreign keys checked at once (not at commit)."""
    with psycopg.connect(database_url) as connection:
        connection.execute("SET CONSTRAINTS ALL IMMEDIATE")
        yield connection
        connection.rollback()


def one(conn: psycopg.Connection[Any], query: str, *params: Any) -> tuple[Any, ...]:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return tuple(row)


def test_account_gets_a_user_and_a_lower_cased_address(conn: psycopg.Connection[Any]) -> None:
    account_id = seed.insert_account(conn, address=ADDRESS)

    address, username = one(
        conn,
        "SELECT a.address, u.username FROM account_account a JOIN auth_user u ON u.id = a.user_id"
        " WHERE a.id = %s",
        account_id,
    )
    assert address == ADDRESS.lower()
    assert username.startswith("user-")


@pytest.mark.parametrize(
    ("hash_kind", "hashed_key_pattern", "sha256_column_set"),
    [
        ("sha256", r"sha256\$[0-9a-f]{64}", True),
        ("pbkdf2_with_sha256", r"pbkdf2_sha256\$1000\$[A-Za-z0-9]{22}\$[A-Za-z0-9+/]{43}=", True),
        ("pbkdf2", r"pbkdf2_sha256\$1000\$[A-Za-z0-9]{22}\$[A-Za-z0-9+/]{43}=", False),
        ("sha256_in_hashed_key", r"sha256\$[0-9a-f]{64}", False),
    ],
)
def test_api_key_is_stored_the_way_its_kind_says(
    conn: psycopg.Connection[Any], hash_kind: Any, hashed_key_pattern: str, sha256_column_set: bool
) -> None:
    key, key_id = seed.insert_api_key(conn, seed.insert_account(conn), hash_kind=hash_kind)

    prefix, hashed_key, sha256_column = one(
        conn,
        "SELECT prefix, hashed_key, hashed_key_sha256 FROM account_accountapikey WHERE id = %s",
        key_id,
    )
    assert re.fullmatch(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}", key)
    assert prefix == key[:8]
    assert key_id == f"{prefix}.{hashed_key}"
    assert re.fullmatch(hashed_key_pattern, hashed_key)
    assert sha256_column == (seed.sha256_field(key) if sha256_column_set else None)
    if hashed_key.startswith("pbkdf2_sha256$"):
        salt = hashed_key.split("$")[2]
        assert hashed_key == seed.django_pbkdf2(key, salt=salt, iterations=1000)
    else:
        assert hashed_key == seed.sha256_field(key)


def test_api_key_flags_are_stored(conn: psycopg.Connection[Any]) -> None:
    expiry = datetime(2024, 1, 1, tzinfo=UTC)
    key, key_id = seed.insert_api_key(
        conn,
        seed.insert_account(conn),
        key="Fixed123.abcdefghijklmnopqrstuvwxyz012345",
        revoked=True,
        expiry_date=expiry,
        rate_limit=None,
        read_scores=False,
    )

    row = one(
        conn,
        "SELECT revoked, expiry_date, rate_limit, read_scores, prefix FROM account_accountapikey"
        " WHERE id = %s",
        key_id,
    )
    assert key == "Fixed123.abcdefghijklmnopqrstuvwxyz012345"
    assert row == (True, expiry, None, False, "Fixed123")


def test_api_key_prefix_longer_than_the_column_is_refused(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(ValueError, match="longer than"):
        seed.insert_api_key(conn, seed.insert_account(conn), key="TooLong12.secret")


@pytest.mark.parametrize(
    ("kind", "child_table"),
    [
        ("WEIGHTED_BINARY", "scorer_weighted_binaryweightedscorer"),
        ("WEIGHTED", "scorer_weighted_weightedscorer"),
    ],
)
def test_scorer_has_its_base_row_and_child_row(
    conn: psycopg.Connection[Any], kind: Any, child_table: str
) -> None:
    scorer_id = seed.insert_scorer(conn, kind=kind, weights={"Google": 0.525, "Ens": "2.5"}, threshold="15.5")

    scorer_type = one(conn, "SELECT type FROM scorer_weighted_scorer WHERE id = %s", scorer_id)[0]
    weights, threshold = one(
        conn, f"SELECT weights, threshold FROM {child_table} WHERE scorer_ptr_id = %s", scorer_id
    )
    assert scorer_type == kind
    assert weights == {"Google": 0.525, "Ens": "2.5"}
    assert threshold == Decimal("15.50000")


def test_scorer_without_weights_stores_null(conn: psycopg.Connection[Any]) -> None:
    scorer_id = seed.insert_scorer(conn, weights=None)

    weights = one(
        conn, "SELECT weights FROM scorer_weighted_binaryweightedscorer WHERE scorer_ptr_id = %s", scorer_id
    )[0]
    assert weights is None


def test_community_row(conn: psycopg.Connection[Any]) -> None:
    account_id = seed.insert_account(conn)
    scorer_id = seed.insert_scorer(conn, weights={})
    deleted = datetime(2025, 10, 1, tzinfo=UTC)

    community_id = seed.insert_community(
        conn,
        account_id,
        scorer_id,
        name="Seeded",
        rule="FIFO",
        external_scorer_id="ext-seeded",
        human_points_program=True,
        deleted_at=deleted,
    )

    row = one(
        conn,
        "SELECT account_id, scorer_id, name, rule, external_scorer_id, human_points_program, deleted_at"
        " FROM account_community WHERE id = %s",
        community_id,
    )
    assert row == (account_id, scorer_id, "Seeded", "FIFO", "ext-seeded", True, deleted)


def test_ceramic_stamp_copies_what_the_cache_api_would(conn: psycopg.Connection[Any]) -> None:
    vc = issue_stamp(ADDRESS, "Google", expiration=EXPIRATION)

    ceramic_id = seed.insert_ceramic_stamp(conn, ADDRESS, vc)

    row = one(
        conn,
        "SELECT address, provider, stamp, type, deleted_at, expiration_date, issuance_date, proof_value"
        " FROM ceramic_cache_ceramiccache WHERE id = %s",
        ceramic_id,
    )
    assert row == (
        ADDRESS.lower(),
        "Google",
        vc,
        1,
        None,
        datetime(2031, 3, 4, 5, 6, 7, 891000, tzinfo=UTC),
        datetime(2025, 9, 1, 10, 11, 12, 345000, tzinfo=UTC),
        vc["proof"]["proofValue"],
    )


def test_ceramic_stamp_of_an_invalid_variant_still_loads(conn: psycopg.Connection[Any]) -> None:
    vc = without_field(
        without_field(issue_stamp(ADDRESS, "Ens", expiration=EXPIRATION), "proof"), "expirationDate"
    )
    updated = datetime(2025, 9, 2, tzinfo=UTC)

    ceramic_id = seed.insert_ceramic_stamp(conn, ADDRESS, vc, provider="Other", type=2, updated_at=updated)

    row = one(
        conn,
        "SELECT provider, type, updated_at, expiration_date, proof_value FROM ceramic_cache_ceramiccache"
        " WHERE id = %s",
        ceramic_id,
    )
    assert row == ("Other", 2, updated, None, "")


def test_revoked_ceramic_stamp_has_a_revocation_with_its_proof(conn: psycopg.Connection[Any]) -> None:
    vc = issue_stamp(ADDRESS, "Google", expiration=EXPIRATION)
    ceramic_id = seed.insert_ceramic_stamp(conn, ADDRESS, vc)

    revocation_id = seed.revoke_ceramic(conn, ceramic_id)

    row = one(
        conn,
        "SELECT ceramic_cache_id, proof_value FROM ceramic_cache_revocation WHERE id = %s",
        revocation_id,
    )
    assert row == (ceramic_id, vc["proof"]["proofValue"])
    with pytest.raises(LookupError):
        seed.revoke_ceramic(conn, -1)


def test_hash_link(conn: psycopg.Connection[Any]) -> None:
    community_id = seed.insert_community(
        conn, seed.insert_account(conn), seed.insert_scorer(conn, weights={}), name="Links"
    )
    expires = datetime(2031, 11, 11, tzinfo=UTC)

    link_id = seed.insert_hash_link(conn, "v0.0.0:abc=", community_id, ADDRESS.lower(), expires)

    row = one(
        conn,
        "SELECT hash, community_id, address, expires_at FROM registry_hashscorerlink WHERE id = %s",
        link_id,
    )
    assert row == ("v0.0.0:abc=", community_id, ADDRESS.lower(), expires)


def test_customization_weights_join_the_way_scoring_reads_them(conn: psycopg.Connection[Any]) -> None:
    community_id = seed.insert_community(
        conn, seed.insert_account(conn), seed.insert_scorer(conn, weights={}), name="Custom"
    )
    list_id = seed.insert_address_list(conn, "SeedAllow", [ADDRESS, "0x" + "1" * 40])

    customization_id = seed.insert_customization(
        conn,
        community_id,
        allow_lists={list_id: "12.5"},
        custom_credentials={"DeveloperList#SeedDev#0a1b2c3d": "7.25"},
    )

    assert one(conn, "SELECT scorer_id FROM account_customization WHERE id = %s", customization_id) == (
        community_id,
    )
    allow = conn.execute(
        "SELECT l.name, a.weight FROM account_allowlist a"
        " JOIN account_addresslist l ON l.id = a.address_list_id WHERE a.customization_id = %s",
        (customization_id,),
    ).fetchall()
    custom = conn.execute(
        "SELECT r.provider_id, c.weight FROM account_customcredential c"
        " JOIN account_customcredentialruleset r ON r.id = c.ruleset_id WHERE c.customization_id = %s",
        (customization_id,),
    ).fetchall()
    members = conn.execute(
        "SELECT address FROM account_addresslistmember WHERE list_id = %s ORDER BY address", (list_id,)
    ).fetchall()
    assert allow == [("SeedAllow", Decimal("12.5000"))]
    assert custom == [("DeveloperList#SeedDev#0a1b2c3d", Decimal("7.2500"))]
    assert members == [("0x" + "1" * 40,), (ADDRESS.lower(),)]


def test_human_points_config_is_seeded_once(conn: psycopg.Connection[Any]) -> None:
    conn.execute("UPDATE registry_humanpointsconfig SET active = false")

    seed.seed_human_points_config(conn)
    seed.seed_human_points_config(conn)

    rows = dict(conn.execute("SELECT action, points FROM registry_humanpointsconfig WHERE active").fetchall())
    assert rows == seed.HUMAN_POINTS_CONFIG
    assert one(conn, "SELECT count(*) FROM registry_humanpointsconfig") == (10,)


def test_human_points_rows(conn: psycopg.Connection[Any]) -> None:
    community_id = seed.insert_community(
        conn, seed.insert_account(conn), seed.insert_scorer(conn, weights={}), name="Points"
    )

    points_id = seed.insert_human_points(conn, ADDRESS, "HKY", tx_hash="v0:x", provider="Google")
    qualified_id = seed.insert_qualified_user(conn, ADDRESS, community_id)
    seed.insert_human_points_multiplier(conn, ADDRESS, 2)

    assert one(
        conn,
        "SELECT address, action, tx_hash, chain_id, provider FROM registry_humanpoints WHERE id = %s",
        points_id,
    ) == (ADDRESS.lower(), "HKY", "v0:x", 0, "Google")
    assert one(
        conn,
        "SELECT community_id FROM registry_humanpointscommunityqualifiedusers WHERE id = %s",
        qualified_id,
    ) == (community_id,)
    assert one(
        conn, "SELECT multiplier FROM registry_humanpointsmultiplier WHERE address = %s", ADDRESS.lower()
    ) == (2,)


def test_demo_dataset_passes_and_loads_once(conn: psycopg.Connection[Any]) -> None:
    first = seed.demo_dataset(conn)
    counts = one(conn, ROW_COUNTS)

    again = seed.demo_dataset(conn)

    assert again == first
    assert one(conn, ROW_COUNTS) == counts
    assert first.api_key == seed.DEMO_API_KEY
    assert (first.community_id, first.external_scorer_id) == (
        seed.DEMO_COMMUNITY_ID,
        seed.DEMO_EXTERNAL_SCORER_ID,
    )
    assert one(
        conn,
        "SELECT id, account_id FROM account_community WHERE external_scorer_id = %s",
        first.external_scorer_id,
    ) == (first.community_id, first.account_id)
    assert one(
        conn, "SELECT hashed_key_sha256 FROM account_accountapikey WHERE id = %s", first.api_key_id
    ) == (seed.sha256_field(first.api_key),)
    assert one(
        conn,
        "SELECT human_points_program FROM account_community WHERE id = %s",
        first.human_points_community_id,
    ) == (True,)


def test_demo_credentials_verify_and_their_weights_pass_the_threshold(conn: psycopg.Connection[Any]) -> None:
    demo = seed.demo_dataset(conn)

    stamps = conn.execute(
        "SELECT provider, stamp FROM ceramic_cache_ceramiccache WHERE address = %s ORDER BY id",
        (demo.address,),
    ).fetchall()
    weights, threshold = one(
        conn,
        "SELECT s.weights, s.threshold FROM account_community c"
        " JOIN scorer_weighted_binaryweightedscorer s ON s.scorer_ptr_id = c.scorer_id WHERE c.id = %s",
        demo.community_id,
    )
    assert [provider for provider, _ in stamps] == list(demo.providers)
    for _, stamp in stamps:
        assert stamp["issuer"] == demo.issuer_did
        assert credentials.verify(stamp) == []
    total = sum(Decimal(str(weights[provider])) for provider in demo.providers)
    assert total == demo.expected_score == Decimal("25.261")
    assert total > threshold
