"""The embed routes end to end on a real PostgreSQL: statuses, bodies, envelopes and every row written."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from handlers.envelope import RESPONSE_HEADERS
from scorer_core import db
from tools import seed

from .embed_events import SHAPES, alb, rest, save_body
from .world import EXPIRY, Context, World, new_address

VALIDATE = "/internal/embed/validate-api-key"
CACHE_COLUMNS = (
    "type, address, provider, proof_value, deleted_at IS NULL AS visible, compose_db_save_status, "
    "compose_db_stream_id, source_app, source_scorer_id, issuance_date, expiration_date"
)


def call(event: dict[str, Any], *, dry_run: bool = False) -> tuple[int, Any, dict[str, Any]]:
    from handlers.embed import handle_event

    raw = handle_event(event, Context(), dry_run=dry_run)
    return raw["statusCode"], json.loads(raw["body"]), raw


def cache_rows(world: World, address: str) -> list[dict[str, Any]]:
    return world.rows(
        f"SELECT {CACHE_COLUMNS} FROM ceramic_cache_ceramiccache WHERE address = %s ORDER BY id", address
    )


def state(world: World) -> list[Any]:
    """Everything a request could change, for 'nothing changed' assertions."""
    tables = (
        "ceramic_cache_ceramiccache",
        "registry_passport",
        "registry_score",
        "registry_stamp",
        "registry_hashscorerlink",
        "registry_event",
        "account_accountapikey",
        "account_accountapikeyanalytics",
    )
    return [world.rows(f"SELECT t::text AS row FROM {table} t ORDER BY 1") for table in tables]


# --- GET /internal/embed/validate-api-key ---------------------------------------------------------------


def key_row(world: World, **kwargs: Any) -> str:
    with world.conn() as conn:
        key, key_id = seed.insert_api_key(conn, world.account_id, **kwargs)
        conn.execute(
            "UPDATE account_accountapikey SET embed_rate_limit = '1000/15m' WHERE id = %s", (key_id,)
        )
    return key


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_good_sha256_key_answers_its_embed_tier_and_writes_nothing(world: World, shape: str) -> None:
    key = key_row(world)
    before = state(world)
    status, body, raw = call(SHAPES[shape]("GET", VALIDATE, headers={"x-api-key": key}))
    assert (status, body) == (200, {"embed_rate_limit": "1000/15m"})
    # The embed success envelope (three keys), with the four headers its 401 carries (agreed deviation 12).
    assert raw == {"statusCode": 200, "headers": RESPONSE_HEADERS, "body": raw["body"]}
    assert raw["body"] == '{"embed_rate_limit":"1000/15m"}'
    assert state(world) == before


def test_the_key_header_is_read_in_any_casing(world: World) -> None:
    key = key_row(world)
    assert call(alb("GET", VALIDATE, headers={"X-Api-KEY": key}))[:2] == (
        200,
        {"embed_rate_limit": "1000/15m"},
    )


def test_a_legacy_pbkdf2_key_is_accepted_and_not_migrated(world: World) -> None:
    key = key_row(world, hash_kind="pbkdf2")
    assert call(alb("GET", VALIDATE, headers={"x-api-key": key}))[0] == 200
    prefix = key.split(".")[0]
    assert world.rows("SELECT hashed_key_sha256 FROM account_accountapikey WHERE prefix = %s", prefix) == [
        {"hashed_key_sha256": None}
    ]


@pytest.mark.parametrize(
    "kind",
    ["missing header", "empty header", "wrong secret", "unknown prefix", "revoked", "expired"],
)
def test_bad_keys_are_refused_with_401(world: World, kind: str) -> None:
    past = datetime.now(UTC) - timedelta(days=1)
    key = key_row(world, revoked=kind == "revoked", expiry_date=past if kind == "expired" else None)
    headers = {
        "missing header": {},
        "empty header": {"x-api-key": ""},
        "wrong secret": {"x-api-key": key.split(".")[0] + ".not-the-secret"},
        "unknown prefix": {"x-api-key": "Nope1234.whatever"},
        "revoked": {"x-api-key": key},
        "expired": {"x-api-key": key},
    }[kind]
    status, body, raw = call(alb("GET", VALIDATE, headers=headers))
    assert (status, body) == (401, {"detail": "Invalid API Key."})
    assert raw["statusCategory"] == "4XX" and raw["headers"]["Access-Control-Allow-Origin"] == "*"
    assert raw["body"] == '{"detail": "Invalid API Key."}'


def test_an_error_envelope_for_api_gateway_has_no_load_balancer_keys(world: World) -> None:
    status, _, raw = call(rest("GET", VALIDATE))
    assert status == 401
    assert set(raw) == {"statusCode", "isBase64Encoded", "headers", "body"}


def test_a_body_that_is_not_json_is_a_400_with_the_decoder_message(world: World) -> None:
    event = alb("GET", VALIDATE, body="{nope", headers={"x-api-key": key_row(world)})
    assert call(event)[:2] == (
        400,
        {"detail": "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"},
    )


# --- POST /internal/embed/stamps/{address} ----------------------------------------------------------------


def save(
    world: World, address: str, stamps: list[Any], *, scorer: Any = None, shape: str = "alb", **kw: Any
) -> tuple[int, Any, dict[str, Any]]:
    scorer_id = world.community_id if scorer is None else scorer
    return call(
        SHAPES[shape]("POST", f"/internal/embed/stamps/{address}", save_body(scorer_id, stamps)), **kw
    )


def issued(address: str, *providers: str) -> list[dict[str, Any]]:
    from tools.credentials import issue_stamp

    return [issue_stamp(address, provider, expiration=EXPIRY) for provider in providers]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_saving_new_stamps_writes_the_cache_rows_and_the_first_score(world: World, shape: str) -> None:
    address = new_address()
    status, body, raw = save(world, address, issued(address, "Github", "Google"), shape=shape)
    assert status == 200, body
    assert set(raw) == {"statusCode", "headers", "body"}
    assert list(body) == ["success", "stamps", "score"]
    assert [s["provider"] for s in body["stamps"]] == ["Github", "Google"]  # ordered by provider
    assert Decimal(body["score"]["score"]) == Decimal("10.525")
    assert body["score"]["points_data"] is None and body["score"]["possible_points_data"] is None
    rows = cache_rows(world, address)
    assert [(r["provider"], r["visible"], r["source_app"], r["source_scorer_id"]) for r in rows] == [
        ("Github", True, 2, world.community_id),
        ("Google", True, 2, world.community_id),
    ]
    assert {(r["type"], r["compose_db_save_status"], r["compose_db_stream_id"]) for r in rows} == {
        (1, "pending", "")
    }
    assert all(r["expiration_date"] is not None and r["issuance_date"] is not None for r in rows)
    assert (
        world.count(
            "registry_score s JOIN registry_passport p ON p.id = s.passport_id", "p.address = %s", address
        )
        == 1
    )
    assert world.count("registry_stamp") == 2


def test_saving_a_provider_again_replaces_its_row(world: World) -> None:
    address = new_address()
    world.stamp(address, "Google")
    status, body, _ = save(world, address, issued(address, "Google"))
    assert status == 200
    assert [(r["provider"], r["visible"]) for r in cache_rows(world, address)] == [
        ("Google", False),
        ("Google", True),
    ]
    assert len(body["stamps"]) == 1


def test_an_unknown_scorer_is_a_400_and_changes_no_row(world: World) -> None:
    address = new_address()
    world.stamp(address, "Google")
    before = state(world)
    status, body, _ = save(world, address, issued(address, "Google"), scorer=999999)
    assert (status, body) == (400, {"detail": "Community matching query does not exist."})
    assert state(world) == before


def test_a_scorer_id_given_as_text_is_accepted_and_other_text_is_not(world: World) -> None:
    address = new_address()
    assert save(world, address, [], scorer=str(world.community_id))[0] == 200
    assert save(world, address, [], scorer="abc")[:2] == (400, {"detail": "An error has occurred"})


def test_a_negative_scorer_id_names_the_demo_community(world: World, configure: Callable[..., None]) -> None:
    configure(DEMO_API_SCORER_ID=str(world.community_id))
    address = new_address()
    status, body, _ = save(world, address, issued(address, "Github"), scorer=-1)
    assert status == 200, body
    assert [r["source_scorer_id"] for r in cache_rows(world, address)] == [world.community_id]


def test_two_stamps_of_one_provider_fail_with_the_raw_database_text_and_change_no_row(world: World) -> None:
    address = new_address()
    world.stamp(address, "Google")
    before = state(world)
    status, body, _ = save(world, address, issued(address, "Google") * 2)
    assert status == 500
    assert body["detail"].startswith(
        'duplicate key value violates unique constraint "unique_non_deleted_provider_for_address"\nDETAIL:  Key (type, address, provider)=(1, '
    )
    assert state(world) == before


@pytest.mark.parametrize(
    ("stamp", "detail"),
    [
        ({"credentialSubject": {"provider": "Google"}}, "proof"),
        ({"credentialSubject": {"provider": "Google"}, "proof": {}}, "proofValue"),
        (
            {
                "credentialSubject": {"provider": "Google"},
                "proof": {"proofValue": "x"},
                "expirationDate": "soon",
            },
            "An error has occurred",
        ),
        (
            {"credentialSubject": {"provider": "Google"}, "proof": {"proofValue": "x"}, "issuanceDate": 5},
            "fromisoformat: argument must be str",
        ),
        ({"credentialSubject": {}}, "An error has occurred"),
        ("not an object", "'str' object has no attribute 'get'"),
    ],
)
def test_a_bad_stamp_is_a_400_and_changes_no_row(world: World, stamp: Any, detail: str) -> None:
    address = new_address()
    world.stamp(address, "Google")
    before = state(world)
    assert save(world, address, [stamp])[:2] == (400, {"detail": detail})
    assert state(world) == before


def test_more_than_100_stamps_are_refused_with_422(world: World) -> None:
    stamps = [{"credentialSubject": {"provider": f"P{i}"}, "proof": {"proofValue": "x"}} for i in range(101)]
    assert save(world, new_address(), stamps)[:2] == (422, {"detail": "You have submitted too many stamps."})


@pytest.mark.parametrize(
    ("address", "status"),
    [
        ("0x123", 400),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", 200),  # a valid EIP-55 checksum
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", 400),  # one letter's case off
        ("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED", 200),  # all upper case: no checksum
    ],
)
def test_the_path_address_is_checked_as_sent(world: World, address: str, status: int) -> None:
    answered, body, _ = save(world, address, [])
    assert answered == status, body
    if status == 400:
        assert body == {"detail": "Invalid address."}
    else:
        assert body["score"]["address"] == address.lower()


def test_a_path_with_an_extra_segment_is_an_invalid_path(world: World) -> None:
    event = alb("POST", f"/internal/embed/stamps/{new_address()}/extra", save_body(world.community_id, []))
    status, body, _ = call(event)
    assert status == 400
    assert body["detail"].startswith("Invalid path. Expecting values like: '^/internal/embed/stamps/")


def test_a_dry_run_save_changes_no_row(world: World) -> None:
    address = new_address()
    world.stamp(address, "Google")
    before = state(world)
    status, body, _ = save(world, address, issued(address, "Google", "Github"), dry_run=True)
    assert status == 200 and body["score"]["score"] != "0.00000"
    assert state(world) == before


def test_a_save_and_score_costs_the_same_round_trips_whatever_the_number_of_stamps(world: World) -> None:
    counts = []
    for providers in (("Google",), ("Google", "Ens", "Linkedin", "Discord", "Github", "Twitter")):
        address = new_address()
        before = db.total_statement_count()
        assert save(world, address, issued(address, *providers))[0] == 200
        counts.append(db.total_statement_count() - before)
    assert counts[0] == counts[1]


# --- GET /internal/embed/score/{scorer_id}/{address} -----------------------------------------------------------


def score(world: World, path_tail: str, shape: str = "alb") -> tuple[int, Any, dict[str, Any]]:
    return call(SHAPES[shape]("GET", f"/internal/embed/score/{path_tail}"))


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_get_score_scores_now_and_lists_the_stamps(world: World, shape: str) -> None:
    address = new_address()
    world.stamp(address, "Github")
    world.stamp(address, "Ens")
    status, body, raw = score(world, f"{world.community_id}/{address}", shape)
    assert status == 200, body
    assert set(raw) == {"statusCode", "headers", "body"}
    assert [s["provider"] for s in body["stamps"]] == ["Ens", "Github"]
    assert body["score"]["score"] == "10.20800" and body["score"]["passing_score"] is False
    assert world.count("registry_stamp") == 2


def test_get_score_accepts_a_trailing_slash_and_any_checksum_casing(world: World) -> None:
    address = new_address()
    mixed = address[:2] + address[2:].upper()[:20] + address[22:]
    assert score(world, f"{world.community_id}/{mixed}/")[0] == 200


@pytest.mark.parametrize(
    ("tail", "detail"),
    [
        ("999999/{a}", "Invalid scorer_id"),
        ("abc/{a}", "Field 'id' expected a number but got 'abc'."),
        ("{c}/0x123", "Invalid address."),
    ],
)
def test_get_score_errors_write_nothing(world: World, tail: str, detail: str) -> None:
    before = state(world)
    status, body, _ = score(world, tail.format(a=new_address(), c=world.community_id))
    assert (status, body) == (400, {"detail": detail})
    assert state(world) == before


def test_get_score_with_an_extra_segment_is_an_invalid_path(world: World) -> None:
    status, body, _ = score(world, f"{world.community_id}/{new_address()}/extra")
    assert status == 400 and body["detail"].startswith(
        "Invalid path. Expecting values like: '^/internal/embed/score/"
    )


def test_an_unrouted_method_is_a_404(world: World) -> None:
    status, body, _ = call(alb("GET", f"/internal/embed/stamps/{new_address()}"))
    assert (status, body) == (404, {"detail": "Not Found"})


def test_a_database_outage_is_a_500_with_the_driver_text(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(db, "run_transaction", broken)
    status, body, _ = score(world, f"{world.community_id}/{new_address()}")
    assert (status, body) == (500, {"detail": "connection refused"})
