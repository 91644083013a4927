"""Concurrent requests keep LIFO's invariants: one owner per nullifier, every stamp scored or deduplicated."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from scorer_core import db

from .world import Response, World, new_address

WORKERS = 12


@pytest.fixture
def concurrent_world(world: World, configure: Callable[..., None]) -> Iterator[World]:
    """Give every worker thread its own connection, as separate Lambda environments would have."""
    configure(DB_POOL_MAX_SIZE=str(WORKERS))
    db.close_pool()
    yield world
    db.close_pool()


def fire(world: World, addresses: list[str]) -> list[tuple[str, Response]]:
    barrier = threading.Barrier(len(addresses))

    def one(address: str) -> tuple[str, Response]:
        barrier.wait()
        return address, world.score(address)

    with ThreadPoolExecutor(max_workers=len(addresses)) as pool:
        return list(pool.map(one, addresses))


def nullifiers_of(world: World, address: str) -> dict[str, list[str]]:
    rows = world.rows("SELECT provider, stamp FROM ceramic_cache_ceramiccache WHERE address = %s", address)
    return {
        r["provider"]: [n for n in r["stamp"]["credentialSubject"]["nullifiers"] if n.startswith("v0")]
        for r in rows
    }


def test_addresses_sharing_nullifiers(concurrent_world: World) -> None:
    world = concurrent_world
    addresses = [new_address() for _ in range(6)]
    for index, address in enumerate(addresses):
        world.stamp(address, "Google", nullifiers=["v0:google-shared"])
        world.stamp(address, "Ens", nullifiers=[f"v0:ens-{index}"])
        world.stamp(address, "Discord", nullifiers=[f"v0:discord-{index % 2}", f"v0:discord-own-{index}"])
    results = fire(world, addresses * 2)

    for _address, response in results:
        assert response.status == 200, response.body
        assert response.body["error"] is None, response.body["error"]
        assert set(response.body["stamps"]) == {"Google", "Ens", "Discord"}

    owners = {
        r["hash"]: r["address"] for r in world.rows("SELECT hash, address FROM registry_hashscorerlink")
    }
    assert world.count("registry_hashscorerlink") == len(owners)
    final = {
        r["address"]: r["stamps"]
        for r in world.rows(
            "SELECT p.address, s.stamps FROM registry_score s JOIN registry_passport p ON p.id = s.passport_id"
        )
    }
    assert set(final) == set(addresses)
    assert world.count("registry_score", "status <> 'DONE'") == 0
    for address in addresses:
        for provider, values in nullifiers_of(world, address).items():
            held_by_others = [value for value in values if owners.get(value, address) != address]
            if final[address][provider]["dedup"]:
                assert held_by_others, (address, provider)
            else:
                assert not held_by_others and all(owners[value] == address for value in values)
    assert sum(not stamps["Google"]["dedup"] for stamps in final.values()) == 1


def test_same_address_many_times(concurrent_world: World) -> None:
    world = concurrent_world
    address = new_address()
    for provider in ("Github", "Twitter", "Google", "Ens"):
        world.stamp(address, provider)
    results = fire(world, [address] * 8)
    assert all(response.status == 200 and response.body["error"] is None for _, response in results)
    assert {response.body["score"] for _, response in results} == {"20.73300"}
    assert world.count("registry_passport") == 1 and world.count("registry_score") == 1
    assert world.count("registry_stamp") == 4
    assert world.count("registry_hashscorerlink") == 4
    assert world.count("registry_event", "action = 'SCU'") == 8
    assert world.count("account_accountapikeyanalytics") == 8
