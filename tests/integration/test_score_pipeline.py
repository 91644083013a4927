"""Credential selection, validation, LIFO, score computation and every row written, end to end."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tools import credentials, seed

from .world import EXPIRY, World, new_address


def test_passing_score_writes_passport_score_stamps_links_and_event(world: World) -> None:
    address = new_address()
    for provider in ("Github", "Twitter", "Google"):
        world.stamp(address, provider)
    response = world.score(address)
    assert response.status == 200
    body = response.body
    assert body["score"] == "20.52500" and body["passing_score"] is True and body["error"] is None
    assert body["expiration_timestamp"] == "2031-03-04T05:06:07.891000+00:00"
    assert body["stamps"]["Google"] == {
        "score": "0.52500",
        "dedup": False,
        "expiration_date": "2031-03-04T05:06:07.891000+00:00",
    }
    [score] = world.rows("SELECT * FROM registry_score")
    assert score["status"] == "DONE" and str(score["score"]) == "1.000000000"
    assert score["evidence"]["rawScore"] == "20.52500000000000002220446049"
    assert world.count("registry_stamp") == 3 and world.count("registry_hashscorerlink") == 3
    [event] = world.rows("SELECT * FROM registry_event")
    assert event["action"] == "SCU" and event["data"]["pk"] == score["id"]
    assert event["data"]["fields"]["expiration_date"] == "2031-03-04T05:06:07.891Z"


def test_no_stamps_scores_zero_with_the_scorer_threshold(world: World) -> None:
    body = world.score(new_address()).body
    assert (body["score"], body["threshold"], body["stamps"], body["expiration_timestamp"]) == (
        "0.00000",
        "20.00000",
        {},
        None,
    )
    assert world.rows("SELECT evidence FROM registry_score")[0]["evidence"]["rawScore"] == "0"


def test_latest_row_per_provider_and_revocations(world: World) -> None:
    address = new_address()
    old = credentials.issue_stamp(address, "Google", expiration="2031-01-01T00:00:00Z")
    new = credentials.issue_stamp(address, "Google", expiration="2032-01-01T00:00:00Z")
    with world.conn() as conn:
        seed.insert_ceramic_stamp(conn, address, new, updated_at=datetime(2025, 2, 1, tzinfo=UTC), type=2)
        seed.insert_ceramic_stamp(conn, address, old, updated_at=datetime(2025, 1, 1, tzinfo=UTC), type=1)
        revoked = seed.insert_ceramic_stamp(
            conn, address, credentials.issue_stamp(address, "Ens", expiration=EXPIRY)
        )
        seed.revoke_ceramic(conn, revoked)
        seed.insert_ceramic_stamp(
            conn,
            address,
            credentials.issue_stamp(address, "Lens", expiration=EXPIRY),
            deleted_at=datetime(2025, 3, 1, tzinfo=UTC),
        )
    stamps = world.score(address).body["stamps"]
    assert list(stamps) == ["Google"] and stamps["Google"]["expiration_date"] == "2032-01-01T00:00:00+00:00"


def test_invalid_stamps_are_dropped_silently(world: World) -> None:
    address = new_address()
    world.stamp(address, "Google", expiration="2024-01-01T00:00:00Z")
    world.stamp(address, "Ens", issuer=credentials.issuer_key(seed=7))
    world.stamp(address, "Lens", subject_did=f"did:pkh:eip155:10:{address}")
    world.stamp(
        address,
        "Discord",
        vc=credentials.tampered(credentials.issue_stamp(address, "Discord", expiration=EXPIRY)),
    )
    world.stamp(address, "Github")
    body = world.score(address).body
    assert list(body["stamps"]) == ["Github"] and body["error"] is None


def test_bad_expiration_dates_fail_the_score_and_keep_previous_stamps(world: World) -> None:
    address = new_address()
    world.stamp(address, "Github")
    assert world.score(address).body["error"] is None
    stamp_ids = [row["id"] for row in world.rows("SELECT id FROM registry_stamp")]
    world.stamp(
        address,
        "Ens",
        vc=credentials.without_field(
            credentials.issue_stamp(address, "Ens", expiration=EXPIRY), "expirationDate"
        ),
    )
    body = world.score(address).body
    assert body["error"] == "'expirationDate'"
    assert (body["score"], body["threshold"], body["last_score_timestamp"]) == ("0.00000", "20.00000", None)
    [score] = world.rows("SELECT * FROM registry_score")
    assert score["status"] == "ERROR" and score["evidence"] is None and score["stamps"] is None
    assert [row["id"] for row in world.rows("SELECT id FROM registry_stamp")] == stamp_ids
    assert world.count("registry_event", "action = 'SCU'") == 1


def test_naive_expiration_is_fatal_even_for_untrusted_issuers(world: World) -> None:
    address = new_address()
    untrusted = credentials.issue_stamp(
        address, "Ens", expiration=EXPIRY, issuer=credentials.issuer_key(seed=7)
    )
    world.stamp(address, "Ens", vc=credentials.with_field(untrusted, "expirationDate", "2031-01-01T00:00:00"))
    assert world.score(address).body["error"] == "can't compare offset-naive and offset-aware datetimes"


def test_clash_with_another_address_dedups(world: World) -> None:
    first, second = new_address(), new_address()
    shared = ["v0.0.0:shared-nullifier"]
    world.stamp(first, "Google", nullifiers=shared)
    world.stamp(second, "Google", nullifiers=shared, expiration="2032-05-06T07:08:09.123Z")
    world.stamp(second, "Github")
    assert world.score(first).status == 200
    body = world.score(second).body
    assert body["stamps"]["Google"] == {
        "score": "0.00000",
        "dedup": True,
        "expiration_date": "2032-05-06T07:08:09.123Z",
    }
    assert body["score"] == "10.00000"
    [event] = world.rows("SELECT * FROM registry_event WHERE action = 'LDP'")
    assert event["address"] == second
    assert event["data"] == {"nullifiers": shared, "provider": "Google", "community_id": world.community_id}
    [link] = world.rows("SELECT address FROM registry_hashscorerlink WHERE hash = %s", shared[0])
    assert link["address"] == first
    assert world.score(first).body["stamps"]["Google"]["dedup"] is False


def test_expired_link_is_taken_over_and_own_link_refreshed(world: World) -> None:
    address, other = new_address(), new_address()
    world.stamp(address, "Google", nullifiers=["v0:g"])
    world.stamp(address, "Ens", nullifiers=["v0:e"], expiration="2033-01-01T00:00:00Z")
    with world.conn() as conn:
        seed.insert_hash_link(
            conn, "v0:g", world.community_id, other, datetime.now(UTC) - timedelta(seconds=1)
        )
        seed.insert_hash_link(conn, "v0:e", world.community_id, address, datetime(2026, 1, 1, tzinfo=UTC))
    assert world.score(address).body["stamps"]["Google"]["dedup"] is False
    links = {row["hash"]: row for row in world.rows("SELECT * FROM registry_hashscorerlink")}
    assert links["v0:g"]["address"] == address
    assert links["v0:g"]["expires_at"] == datetime.fromisoformat(EXPIRY)
    assert links["v0:e"]["expires_at"] == datetime(2033, 1, 1, tzinfo=UTC)
    assert len(links) == 2


def test_links_are_per_community(world: World) -> None:
    address, other = new_address(), new_address()
    world.stamp(address, "Google", nullifiers=["v0:g"])
    with world.conn() as conn:
        seed.insert_hash_link(conn, "v0:g", world.other_community_id, other, datetime(2032, 1, 1, tzinfo=UTC))
    assert world.score(address).body["stamps"]["Google"]["dedup"] is False
    assert world.count("registry_hashscorerlink") == 2


def test_partial_clash_backfills_the_other_nullifier_under_the_holder(world: World) -> None:
    address, holder = new_address(), new_address()
    holder_expiry = datetime(2032, 2, 2, tzinfo=UTC)
    world.stamp(address, "Google", nullifiers=["v0:a", "v0:b"])
    with world.conn() as conn:
        seed.insert_hash_link(conn, "v0:a", world.community_id, holder, holder_expiry)
    body = world.score(address).body
    assert body["stamps"]["Google"]["dedup"] is True and body["error"] is None
    [backfilled] = world.rows("SELECT * FROM registry_hashscorerlink WHERE hash = 'v0:b'")
    assert (backfilled["address"], backfilled["expires_at"]) == (holder, holder_expiry)
    assert world.count("registry_event", "action = 'LDP'") == 1


def test_multi_nullifier_flag_off_links_only_v0(world: World, configure: Callable[..., None]) -> None:
    address, other = new_address(), new_address()
    world.stamp(address, "Google", nullifiers=["v0.0.0:a", "v1:b"])
    world.stamp(address, "Ens", nullifiers=["v1:only"])
    with world.conn() as conn:
        seed.insert_hash_link(conn, "v1:b", world.community_id, other, datetime(2032, 1, 1, tzinfo=UTC))
    stamps = world.score(address).body["stamps"]
    assert stamps["Google"]["dedup"] is False and stamps["Ens"]["dedup"] is False
    assert {row["hash"] for row in world.rows("SELECT hash FROM registry_hashscorerlink")} == {
        "v0.0.0:a",
        "v1:b",
    }
    configure(FF_MULTI_NULLIFIER="on")
    assert world.score(address).body["stamps"]["Google"]["dedup"] is True


def test_two_stamps_sharing_a_nullifier_get_one_link(world: World) -> None:
    address = new_address()
    world.stamp(address, "Google", nullifiers=["v0:same"], expiration="2031-01-01T00:00:00Z")
    world.stamp(address, "Ens", nullifiers=["v0:same"])
    body = world.score(address).body
    assert (
        body["error"] is None and not body["stamps"]["Google"]["dedup"] and not body["stamps"]["Ens"]["dedup"]
    )
    [link] = world.rows("SELECT * FROM registry_hashscorerlink")
    assert link["expires_at"] == datetime(2031, 1, 1, tzinfo=UTC)


def test_customization_weights_and_unweighted_providers(world: World) -> None:
    address = new_address()
    with world.conn() as conn:
        list_id = seed.insert_address_list(conn, "Foo", [address])
        seed.insert_customization(conn, world.community_id, allow_lists={list_id: "1.5"})
    world.stamp(address, "AllowList#Foo")
    world.stamp(address, "Unweighted", expiration="2030-06-01T00:00:00+02:00")
    body = world.score(address).body
    assert body["stamps"]["AllowList#Foo"]["score"] == "1.50000"
    assert body["stamps"]["Unweighted"]["score"] == "0.00000"
    assert body["expiration_timestamp"] == "2030-06-01T00:00:00+02:00"


def test_fifo_rule_and_null_weights_record_errors(world: World) -> None:
    with world.conn() as conn:
        fifo_scorer = seed.insert_scorer(conn, weights={})
        fifo = seed.insert_community(conn, world.account_id, fifo_scorer, name="fifo", rule="FIFO")
        null_scorer = seed.insert_scorer(conn, weights=None)
        nulls = seed.insert_community(conn, world.account_id, null_scorer, name="nulls")
    address = new_address()
    world.stamp(address, "Github")
    assert world.score(address, community=fifo).body["error"] == "Invalid rule"
    assert world.score(address, community=nulls).body["error"] == "'NoneType' object has no attribute 'get'"
    assert world.count("registry_score", "status = 'ERROR'") == 2
    assert world.count("registry_hashscorerlink") == 0


def test_rescore_replaces_stamps_and_adds_an_event(world: World) -> None:
    address = new_address()
    world.stamp(address, "Github")
    world.score(address)
    first_ids = {row["id"] for row in world.rows("SELECT id FROM registry_stamp")}
    world.score(address)
    assert world.count("registry_passport") == 1 and world.count("registry_score") == 1
    assert not first_ids & {row["id"] for row in world.rows("SELECT id FROM registry_stamp")}
    assert world.count("registry_event", "action = 'SCU'") == 2


def test_http_api_and_alb_events_get_their_response_shapes(world: World) -> None:
    from handlers.score import handler

    from .world import Context

    address = new_address()
    path = f"/v2/stamps/{world.community_id}/score/{address}"
    http = {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"x-api-key": world.key},
        "requestContext": {"http": {"method": "GET"}},
        "isBase64Encoded": False,
    }
    response = handler(http, Context())
    assert response["statusCode"] == 200 and "statusDescription" not in response
    alb = {
        "requestContext": {"elb": {"targetGroupArn": "arn"}},
        "httpMethod": "GET",
        "path": path,
        "queryStringParameters": {},
        "multiValueHeaders": {"x-api-key": [world.key]},
        "headers": {"x-api-key": world.key},
        "body": "",
        "isBase64Encoded": False,
    }
    response = handler(alb, Context())
    assert response["statusCode"] == 200 and response["statusDescription"] == "200 OK"
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]


def test_dry_run_writes_nothing(world: World) -> None:
    from handlers.score import handle_event

    from .world import Context, rest_event

    with world.conn() as conn:
        key, _ = seed.insert_api_key(conn, world.account_id, hash_kind="pbkdf2")
    address = new_address()
    world.stamp(address, "Github")
    event = rest_event(f"/v2/stamps/{world.community_id}/score/{address}", {"x-api-key": key})
    response = handle_event(event, Context(), dry_run=True)
    assert response["statusCode"] == 200 and '"score":"10.00000"' in response["body"]
    for table in (
        "registry_passport",
        "registry_score",
        "registry_stamp",
        "registry_hashscorerlink",
        "registry_event",
        "account_accountapikeyanalytics",
    ):
        assert world.count(table) == 0, table
    assert world.count("account_accountapikey", "hashed_key_sha256 IS NULL") == 1
