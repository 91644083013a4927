"""Key hashes made by the seed tool are the ones Django makes, and the demo constants fit the schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tools import seed

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "parity" / "fixtures.json"


def test_pbkdf2_and_sha256_hashes_match_the_recorded_keys() -> None:
    if not FIXTURES.exists():
        pytest.skip("parity fixtures not present next to the project")
    fixtures = json.loads(FIXTURES.read_text())
    key = fixtures["meta"]["api_keys"]["main"]
    row = next(
        r["row"]
        for r in fixtures["base"]
        if r["table"] == "account_accountapikey" and r["row"]["prefix"] == key.split(".")[0]
    )
    _, iterations, salt, _ = row["hashed_key"].split("$")

    assert seed.django_pbkdf2(key, salt=salt, iterations=int(iterations)) == row["hashed_key"]
    assert seed.sha256_field(key) == row["hashed_key_sha256"]


def test_demo_constants_fit_the_columns() -> None:
    assert re.fullmatch(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}", seed.DEMO_API_KEY)
    assert re.fullmatch(r"0x[0-9a-f]{40}", seed.DEMO_ADDRESS)
    assert len(seed.DEMO_EXTERNAL_SCORER_ID) <= 42
    assert set(seed.DEMO_STAMP_PROVIDERS) <= set(seed.DEMO_WEIGHTS)
