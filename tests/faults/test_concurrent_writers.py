"""Many primaries and dry runs at once on addresses that share a nullifier: every primary is answered 200 with
complete rows (one link per nullifier, every score DONE), whatever the dry runs do; dry runs give way."""

from __future__ import annotations

import threading
from collections.abc import Callable

from handlers.score import handle_event
from scorer_core import db
from tests.integration.world import Context, World, new_address, rest_event
from tools import credentials


def test_primaries_and_dry_runs_on_shared_nullifiers(world: World, configure: Callable[..., None]) -> None:
    db.close_pool()
    configure(DB_POOL_MAX_SIZE="12", SHADOW_MAX_HOLD_MS="200")
    shared = credentials.default_nullifier("Github", "shared")
    addresses = [new_address() for _ in range(4)]
    for address in addresses:
        world.stamp(address, "Github", nullifiers=[shared])
        world.stamp(address, "Google")
    primaries: list[int] = []
    dry_runs: list[int] = []
    lock = threading.Lock()

    def primary(address: str) -> None:
        status = world.score(address).status
        with lock:
            primaries.append(status)

    def dry_run(address: str) -> None:
        event = rest_event(f"/v2/stamps/{world.community_id}/score/{address}", {"x-api-key": world.key})
        status = handle_event(event, Context(), dry_run=True)["statusCode"]
        with lock:
            dry_runs.append(status)

    threads = [threading.Thread(target=primary, args=(a,)) for a in addresses * 2]
    threads += [threading.Thread(target=dry_run, args=(a,)) for a in addresses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.close_pool()
    assert primaries == [200] * 8
    assert len(dry_runs) == 4 and set(dry_runs) <= {200, 500}
    links = world.rows("SELECT hash, address FROM registry_hashscorerlink WHERE hash = %s", shared)
    assert len(links) == 1 and links[0]["address"] in addresses
    statuses = world.rows("SELECT status FROM registry_score")
    assert statuses == [{"status": "DONE"}] * 4
    for address in addresses:
        body = world.score(address).body
        assert body["error"] is None
        assert body["stamps"]["Github"]["dedup"] is (address != links[0]["address"])
