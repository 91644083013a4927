"""Human Points written by a passing score."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tools import seed

from .world import World, new_address


@pytest.fixture
def points_world(world: World, configure: Callable[..., None]) -> World:
    configure(HUMAN_POINTS_ENABLED="true", HUMAN_POINTS_START_TIMESTAMP="0")
    with world.conn() as conn:
        seed.seed_human_points_config(conn)
        conn.execute(
            "UPDATE account_community SET human_points_program = true WHERE id = %s", (world.community_id,)
        )
    return world


def passing(world: World, address: str, *extra: str) -> None:
    world.stamp(address, "Github")
    world.stamp(address, "Twitter")
    for provider in extra:
        world.stamp(address, provider, nullifiers=[f"v0:{provider}-1", "", f"v1:{provider}-2"])


def points(world: World) -> list[tuple[str, str, str, int]]:
    rows = world.rows(
        "SELECT action, tx_hash, provider, chain_id FROM registry_humanpoints ORDER BY action, provider"
    )
    return [(r["action"], r["tx_hash"], r["provider"], r["chain_id"]) for r in rows]


def test_passing_score_qualifies_and_earns_stamp_actions(points_world: World) -> None:
    address = new_address()
    passing(points_world, address, "SelfStakingBronze", "TrustedCitizen")
    assert points_world.score(address).body["points_data"] is None
    assert points_world.count("registry_humanpointscommunityqualifiedusers") == 1
    earned = points(points_world)
    assert ("ISB", "", "", 0) in earned and ("CST", "", "", 0) in earned
    human_keys = {provider: tx_hash for action, tx_hash, provider, _ in earned if action == "HKY"}
    assert human_keys["SelfStakingBronze"] == "v1:SelfStakingBronze-2"
    assert set(human_keys) == {"Github", "Twitter", "SelfStakingBronze", "TrustedCitizen"}
    assert len(earned) == 6
    points_world.score(address)
    assert points(points_world) == earned
    assert points_world.count("registry_humanpointscommunityqualifiedusers") == 1


def test_rotated_nullifier_adds_no_second_human_key(points_world: World) -> None:
    address = new_address()
    with points_world.conn() as conn:
        seed.insert_human_points(conn, address, "HKY", tx_hash="v0:old", provider="Github")
    passing(points_world, address)
    points_world.score(address)
    assert [p for p in points(points_world) if p[2] == "Github"] == [("HKY", "v0:old", "Github", 0)]


def test_failing_score_or_disabled_flag_writes_no_points(
    points_world: World, configure: Callable[..., None]
) -> None:
    failing = new_address()
    points_world.stamp(failing, "Google")
    points_world.score(failing)
    configure(HUMAN_POINTS_ENABLED="false")
    address = new_address()
    passing(points_world, address)
    points_world.score(address)
    configure(HUMAN_POINTS_ENABLED="true", HUMAN_POINTS_START_TIMESTAMP="99999999999")
    points_world.score(address)
    assert points_world.count("registry_humanpoints") == 0
    assert points_world.count("registry_humanpointscommunityqualifiedusers") == 0


def test_scoring_bonus_at_four_communities(points_world: World) -> None:
    address, short = new_address(), new_address()
    with points_world.conn() as conn:
        for n in range(3):
            scorer = seed.insert_scorer(conn, weights={})
            community = seed.insert_community(conn, points_world.account_id, scorer, name=f"c{n}")
            seed.insert_qualified_user(conn, address, community)
            if n < 2:
                seed.insert_qualified_user(conn, short, community)
    passing(points_world, address)
    passing(points_world, short)
    points_world.score(address)
    points_world.score(short)
    scb = points_world.rows("SELECT address FROM registry_humanpoints WHERE action = 'SCB'")
    assert [row["address"] for row in scb] == [address]


def test_address_list_bonuses_and_the_metamask_cap(
    points_world: World, configure: Callable[..., None]
) -> None:
    address, capped = new_address(), new_address()
    with points_world.conn() as conn:
        seed.insert_address_list(conn, "SeasonedPassportOGs", [address])
        seed.insert_address_list(conn, "TheChosenOnes", [address])
        seed.insert_address_list(conn, "MetaMaskOG2", [address, capped])
    passing(points_world, address)
    points_world.score(address)
    assert {p[0] for p in points(points_world)} == {"HKY", "SOG", "TCO"}
    configure(HUMAN_POINTS_MTA_ENABLED="true")
    points_world.score(address)
    assert points_world.count("registry_humanpoints", "action = 'MM2'") == 1
    with points_world.conn() as conn:
        conn.execute(
            "INSERT INTO registry_humanpoints (address, action, timestamp, tx_hash, chain_id, provider)"
            " SELECT 'x' || n, 'MM2', now(), '', 0, '' FROM generate_series(1, 4999) n"
        )
    passing(points_world, capped)
    points_world.score(capped)
    assert points_world.count("registry_humanpoints", "action = 'MM2' AND address = %s", capped) == 0


def test_a_failing_point_write_rolls_back_every_scoring_write(points_world: World) -> None:
    address = new_address()
    passing(points_world, address)
    points_world.stamp(address, "Discord", nullifiers=["v1:" + "x" * 120])
    body = points_world.score(address).body
    assert body["error"] == "value too long for type character varying(100)\n"
    assert points_world.rows("SELECT status FROM registry_score")[0]["status"] == "ERROR"
    assert points_world.count("registry_humanpointscommunityqualifiedusers") == 0
    assert points_world.count("registry_humanpoints") == 0
    assert points_world.count("registry_stamp") == 0
    assert points_world.count("registry_hashscorerlink") == 0
