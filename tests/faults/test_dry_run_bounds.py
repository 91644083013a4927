"""A stalled dry run (shadow) holding a passport lock and freshly inserted hash links must give way: the
primary requests for those rows are answered while the dry run is still stalled, and write complete rows.

The dry run runs in its own interpreter (as the shadow Lambda does) through a fault proxy that holds its final
ROLLBACK for ever; nothing releases it until the primaries have answered, so without a bound they never would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from tests.integration.world import World, new_address, rest_event
from tools import credentials

from .proxy import FaultProxy

PROJECT = Path(__file__).resolve().parents[2]
DRY_RUN = (
    "import json, sys\n"
    "from handlers.score import handle_event\n"
    "from tools.lambda_context import LambdaContext\n"
    "response = handle_event(json.loads(sys.stdin.read()), LambdaContext(), dry_run=True)\n"
    "print('STATUS', response['statusCode'])\n"
)


def test_primaries_never_wait_on_a_stalled_dry_run(world: World) -> None:
    address, other = new_address(), new_address()
    nullifier = credentials.default_nullifier("Github", address)
    world.stamp(address, "Github", nullifiers=[nullifier])
    world.stamp(other, "Github", nullifiers=[nullifier])
    proxy = FaultProxy.for_dsn(world.url)
    proxy.faults.stall_on_statement = b"ROLLBACK"
    event = rest_event(f"/v2/stamps/{world.community_id}/score/{address}", {"x-api-key": world.key})
    env = {**os.environ, "DATABASE_URL": proxy.dsn_through(world.url), "SHADOW_MAX_HOLD_MS": "300"}
    shadow = subprocess.Popen(
        [sys.executable, "-c", DRY_RUN],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=PROJECT,
    )
    try:
        assert shadow.stdin is not None
        shadow.stdin.write(json.dumps(event))
        shadow.stdin.close()
        assert proxy.stalled.wait(timeout=120), "the dry run reached its ROLLBACK"
        answers: dict[str, int] = {}

        def primary(who: str) -> None:
            answers[who] = world.score(who).status

        threads = [threading.Thread(target=primary, args=(who,), daemon=True) for who in (address, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        # Both primaries answered while the dry run was still held at its ROLLBACK.
        assert answers == {address: 200, other: 200}
        assert not proxy._release.is_set()
    finally:
        proxy.close()
        shadow.wait(timeout=120)
    [link] = world.rows("SELECT hash, address FROM registry_hashscorerlink")  # one primary won the nullifier
    assert link["hash"] == nullifier and link["address"] in (address, other)
    scores = world.rows(
        "SELECT p.address, s.status FROM registry_score s JOIN registry_passport p ON p.id = s.passport_id"
        " ORDER BY p.address"
    )
    assert scores == sorted(
        [{"address": address, "status": "DONE"}, {"address": other, "status": "DONE"}],
        key=lambda r: r["address"],
    )
    assert world.score(address).status == 200
