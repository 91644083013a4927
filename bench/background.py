"""Background rows: thousands of other passports, so the benchmark runs on tables that are not empty.

Each background address has a few stamps in the ceramic cache (some soft-deleted older versions too), a
passport in one or two communities with its score, stamps, hash links and score events, sometimes Human
Points rows, and an analytics row per passport. Credentials are copies of one signed credential with the
subject, provider, nullifier and signature bytes changed: the right size and shape, never verified.

Rows are bulk-loaded with COPY and explicit ids; the identity sequences are moved past them afterwards so
the handler's inserts continue from there.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg import Connection, sql

Row = tuple[Any, ...]
SEED = 20251101
NOW = datetime(2025, 11, 1, 12, 0, tzinfo=UTC)
EXPIRES = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
THRESHOLD = Decimal("20")

_COLUMNS: dict[str, list[str]] = {
    table: columns.split()
    for table, columns in {
        "ceramic_cache_ceramiccache": "id address provider stamp created_at updated_at type deleted_at"
        " compose_db_save_status compose_db_stream_id expiration_date issuance_date proof_value source_app"
        " source_scorer_id",
        "registry_passport": "id community_id address requires_calculation",
        "registry_score": "id score passport_id error last_score_timestamp status evidence stamp_scores"
        " expiration_date stamps",
        "registry_stamp": "id provider credential passport_id",
        "registry_hashscorerlink": "id hash address expires_at community_id",
        "registry_event": "id action address created_at data community_id",
        "registry_humanpoints": "id address action timestamp tx_hash chain_id provider",
        "registry_humanpointscommunityqualifiedusers": "id address community_id",
        "account_accountapikeyanalytics": "id created_at path api_key_id base_path error headers"
        " path_segments payload query_params response response_skipped status_code",
    }.items()
}


@dataclass
class _Rows:
    """Rows per table, each with its explicit id."""

    tables: dict[str, list[Row]] = field(default_factory=lambda: {table: [] for table in _COLUMNS})

    def add(self, table: str, *values: Any) -> int:
        rows = self.tables[table]
        row_id = len(rows) + 1
        rows.append((row_id, *values))
        return row_id


def load(
    conn: Connection[Any],
    *,
    addresses: int,
    communities: Sequence[int],
    weights: dict[str, float],
    providers: Sequence[str],
    api_key_id: str,
    credential_template: dict[str, Any],
) -> dict[str, int]:
    """COPY the background into empty tables (in the caller's transaction); returns rows per table.

    ``communities[0]`` is the main one (most passports live there), ``communities[1]`` the Human Points one.
    """
    rows = _Rows()
    credential = _CredentialText(credential_template)
    rng = random.Random(SEED)
    for n in range(addresses):
        _address_rows(rows, rng, n, communities, weights, providers, api_key_id, credential)
    for table, table_rows in rows.tables.items():
        _copy(conn, table, table_rows)
        conn.execute(
            sql.SQL("SELECT setval(pg_get_serial_sequence({t}, 'id'), {n}, {called})").format(
                t=sql.Literal(table), n=sql.Literal(max(len(table_rows), 1)), called=bool(table_rows)
            )
        )
    return {table: len(table_rows) for table, table_rows in rows.tables.items()}


def _address_rows(
    rows: _Rows,
    rng: random.Random,
    n: int,
    communities: Sequence[int],
    weights: dict[str, float],
    providers: Sequence[str],
    api_key_id: str,
    credential: _CredentialText,
) -> None:
    address = "0x" + hashlib.sha256(f"background address {n}".encode()).hexdigest()[:40]
    held = rng.sample(list(providers), rng.randint(3, 15))
    texts = {provider: credential.for_stamp(address, provider, rng) for provider in held}
    updated = NOW - timedelta(days=rng.randint(1, 90))
    for provider, text in texts.items():
        rows.add("ceramic_cache_ceramiccache", *_ceramic(address, provider, text, updated, None))
    if rng.random() < 0.1:  # an older, replaced version of one stamp
        old = credential.for_stamp(address, held[0], rng)
        replaced = updated - timedelta(days=30)
        rows.add("ceramic_cache_ceramiccache", *_ceramic(address, held[0], old, replaced, updated))

    chosen = [communities[0]] if rng.random() < 0.7 else []
    if rng.random() < 0.5 or not chosen:
        chosen.append(rng.choice([c for c in communities[1:] if c not in chosen]))
    raw = sum((Decimal(str(weights[p])) for p in held), Decimal(0))
    stamps = {
        p: {"dedup": False, "score": f"{weights[p]:.5f}", "expiration_date": EXPIRES.isoformat()}
        for p in held
    }
    for community in chosen:
        passport = rows.add("registry_passport", community, address, None)
        score = rows.add(
            "registry_score", *_score(passport, raw, {p: weights[p] for p in held}, stamps, updated)
        )
        for provider, text in texts.items():
            rows.add("registry_stamp", provider, text, passport)
            rows.add("registry_hashscorerlink", _nullifier(provider, address), address, EXPIRES, community)
        for age in range(rng.choice((1, 1, 1, 2, 3))):  # the score history
            event = {
                "pk": score,
                "model": "registry.score",
                "fields": {"score": str(int(raw >= THRESHOLD)), "passport": passport, "stamps": stamps},
            }
            created = updated - timedelta(days=age)
            rows.add("registry_event", "SCU", address, created, json.dumps(event), community)
        if community == communities[1] and raw >= THRESHOLD:
            rows.add("registry_humanpointscommunityqualifiedusers", address, community)
            for provider in held[:2]:
                nullifier = _nullifier(provider, address)
                rows.add("registry_humanpoints", address, "HKY", updated, nullifier, 0, provider)
        rows.add("account_accountapikeyanalytics", *_analytics(address, community, api_key_id, updated))


def _score(
    passport: int, raw: Decimal, stamp_scores: dict[str, float], stamps: dict[str, Any], when: datetime
) -> Row:
    passing = raw >= THRESHOLD
    evidence = {
        "type": "ThresholdScoreCheck",
        "success": passing,
        "rawScore": str(raw),
        "threshold": "20.00000",
    }
    return (
        Decimal(int(passing)),
        passport,
        None,
        when,
        "DONE",
        json.dumps(evidence),
        json.dumps(stamp_scores),
        EXPIRES,
        json.dumps(stamps),
    )


def _ceramic(address: str, provider: str, text: str, updated: datetime, deleted: datetime | None) -> Row:
    issued = updated - timedelta(days=1)
    proof = json.loads(text)["proof"]["proofValue"]
    return (address, provider, text, issued, updated, 1, deleted, "", "", EXPIRES, issued, proof, 1, None)


def _analytics(address: str, community: int, api_key_id: str, when: datetime) -> Row:
    path = f"/v2/stamps/{community}/score/{address}"
    headers = {"host": "api.passport.xyz", "accept": "application/json", "x-api-key": "***"}
    segments = ["v2", "stamps", str(community), "score", address]
    response = json.dumps({"address": address, "score": "1.00000"})
    return (
        when,
        path,
        api_key_id,
        None,
        None,
        json.dumps(headers),
        json.dumps(segments),
        "{}",
        None,
        json.dumps(response),
        False,
        200,
    )


def _nullifier(provider: str, address: str) -> str:
    return "v0.0.0:" + hashlib.sha256(f"background {provider} {address}".encode()).hexdigest()[:44]


class _CredentialText:
    """A signed credential's JSON text with its per-stamp fields turned into placeholders."""

    def __init__(self, template: dict[str, Any]) -> None:
        shaped = json.loads(json.dumps(template))
        shaped["credentialSubject"].update(
            id="did:pkh:eip155:1:@ADDRESS@", provider="@PROVIDER@", nullifiers=["@NULLIFIER@"]
        )
        self._signature_length = len(shaped["proof"]["proofValue"]) - 2
        shaped["proof"]["proofValue"] = "0x@SIGNATURE@"
        self._text = json.dumps(shaped)

    def for_stamp(self, address: str, provider: str, rng: random.Random) -> str:
        signature = f"{rng.getrandbits(4 * self._signature_length):0{self._signature_length}x}"
        return (
            self._text.replace("@ADDRESS@", address)
            .replace("@PROVIDER@", provider)
            .replace("@NULLIFIER@", _nullifier(provider, address))
            .replace("@SIGNATURE@", signature)
        )


def _copy(conn: Connection[Any], table: str, rows: Iterable[Row]) -> None:
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=sql.Identifier(table), columns=sql.SQL(", ").join(map(sql.Identifier, _COLUMNS[table]))
    )
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
