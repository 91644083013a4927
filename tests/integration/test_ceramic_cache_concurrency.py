"""Concurrent ceramic-cache writers and scorers for one address (agreed deviation 11).

Sixteen writers (bulk POST, PATCH and DELETE with overlapping providers) and four scorers start together, each on
its own connection. None may fail; exactly one row per (type, address, provider) stays visible; and the whole
run must equal some serial order of the requests: ordered by the time each one scored, every answer shows the
state left by the ones before it, and the final rows and score are those of the last.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from scorer_core import db
from scorer_core.ceramic_cache import bulk, score
from scorer_core.ceramic_cache.request import Answer, CacheRequest
from scorer_core.settings import get_settings
from tools import credentials

from .ceramic import EXPIRY, CacheWorld, auth
from .world import new_address

PROVIDERS = ["Google", "Ens", "Discord", "Github"]
WRITERS = 16
SCORERS = 4


@pytest.fixture
def concurrent_cache_world(cache_world: CacheWorld) -> Iterator[CacheWorld]:
    cache_world.configure(DB_POOL_MAX_SIZE=str(WRITERS + SCORERS))
    db.close_pool()
    yield cache_world
    db.close_pool()


def stamp(address: str, provider: str, tag: str) -> dict[str, Any]:
    return credentials.issue_stamp(address, provider, expiration=EXPIRY, nullifiers=[f"v0:{tag}-{provider}"])


def tag_of(vc: dict[str, Any]) -> str:
    return str(vc["credentialSubject"]["nullifiers"][0])


def plan(address: str) -> list[tuple[str, Any, Callable[[dict[str, str]], None]]]:
    """(method, payload, effect on the simulated {provider: nullifier} state) for each request."""
    requests: list[tuple[str, Any, Callable[[dict[str, str]], None]]] = []
    for i in range(WRITERS):
        tag = f"w{i}"
        kind = ("POST", "POST", "PATCH", "DELETE")[i % 4]
        chosen = [PROVIDERS[(i + k) % len(PROVIDERS)] for k in range(1 + i % 3)]
        if kind == "POST":
            items = [{"provider": p, "stamp": stamp(address, p, tag)} for p in chosen]
        elif kind == "PATCH":
            items = [{"provider": chosen[0], "stamp": stamp(address, chosen[0], tag)}]
            items += [{"provider": p} for p in chosen[1:]]
        else:
            items = [{"provider": f"Extra{i}"}] + [{"provider": p} for p in chosen]

        def effect(state: dict[str, str], items: list[dict[str, Any]] = items) -> None:
            for item in items:
                state.pop(item["provider"], None)
                if item.get("stamp"):
                    state[item["provider"]] = tag_of(item["stamp"])

        requests.append((kind, items, effect))
    for _ in range(SCORERS):
        requests.append(("SCORE", {}, lambda state: None))
    return requests


def test_writers_and_scorers_serialize(concurrent_cache_world: CacheWorld) -> None:
    cache_world = concurrent_cache_world
    address = new_address()
    initial = [{"provider": "Google", "stamp": stamp(address, "Google", "seed")}]
    initial += [
        {"provider": f"Extra{i}", "stamp": stamp(address, "Lens", f"extra{i}")} for i in range(WRITERS)
    ]
    assert cache_world.bulk("POST", address, initial).status == 201
    requests = plan(address)
    settings = get_settings()
    barrier = threading.Barrier(len(requests))
    use_cases = {"POST": bulk.post, "PATCH": bulk.patch, "DELETE": bulk.delete, "SCORE": score.post}

    def one(request: tuple[str, Any, Any]) -> Answer:
        kind, payload, _ = request
        cache_request = CacheRequest(auth(address), {}, json.dumps(payload), False)
        barrier.wait()
        return use_cases[kind](cache_request, settings)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        answers = list(pool.map(one, requests))

    assert [a.status for a in answers] == [201 if k == "POST" else 200 for k, _, _ in requests], [
        a.body for a in answers if a.status >= 300
    ]
    duplicated = cache_world.world.rows(
        "SELECT type, provider FROM ceramic_cache_ceramiccache WHERE address = %s AND deleted_at IS NULL"
        " GROUP BY type, provider HAVING count(*) > 1",
        address,
    )
    assert duplicated == []

    bodies = [json.loads(a.body) for a in answers]
    scores = [body["score"] if "success" in body else body for body in bodies]
    assert all(s["error"] is None for s in scores)
    order = sorted(range(len(requests)), key=lambda i: scores[i]["last_score_timestamp"])
    state = {"Google": "v0:seed-Google"} | {f"Extra{i}": f"v0:extra{i}-Lens" for i in range(WRITERS)}
    for index in order:
        kind, _, effect = requests[index]
        effect(state)
        if kind != "SCORE":
            listed = {s["provider"]: tag_of(s["stamp"]) for s in bodies[index]["stamps"]}
            assert listed == state, (kind, index)
        assert set(scores[index]["stamps"]) == set(state), (kind, index)
    final = {
        r["provider"]: tag_of(r["stamp"])
        for r in cache_world.world.rows(
            "SELECT provider, stamp FROM ceramic_cache_ceramiccache WHERE address = %s AND deleted_at IS NULL",
            address,
        )
    }
    assert final == state
    stored = cache_world.world.rows("SELECT stamps FROM registry_score")
    assert len(stored) == 1 and stored[0]["stamps"] == scores[order[-1]]["stamps"]
