"""Row factories for the Django tables, and the demo data set.

Development tooling for tests, the demo and benchmarks: one function per kind of row, plain
parameterised SQL over a psycopg connection, every NOT NULL column supplied explicitly (the Django
tables have no database defaults). Values that Django would fill on its own (creation times,
unused flags) get the fixed values the parity fixtures use, so seeded rows look like real ones.
The functions never commit: the caller owns the transaction.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from psycopg import Connection, sql
from psycopg.types.json import Jsonb

from tools.credentials import issue_stamp, issuer_key

SEED_TIME = datetime(2025, 9, 1, 12, 0, tzinfo=UTC)
HashKind = Literal["sha256", "pbkdf2", "pbkdf2_with_sha256", "sha256_in_hashed_key"]
ScorerKind = Literal["WEIGHTED_BINARY", "WEIGHTED"]

# The points of each Human Points action, as the reference's migration seeds them.
HUMAN_POINTS_CONFIG = {
    "SCB": 500,
    "HKY": 100,
    "ISB": 100,
    "ISS": 200,
    "ISG": 500,
    "CSB": 100,
    "CSE": 200,
    "CST": 500,
    "PMT": 300,
    "HIM": 1000,
}

_KEY_ALPHABET = string.ascii_letters + string.digits
_SCORER_TABLES = {
    "WEIGHTED_BINARY": "scorer_weighted_binaryweightedscorer",
    "WEIGHTED": "scorer_weighted_weightedscorer",
}

Conn = Connection[Any]


def insert_user(conn: Conn, *, username: str | None = None, id: int | None = None) -> int:
    """An `auth_user` with an unusable password; only needed as the owner of an account."""
    username = username or f"user-{secrets.token_hex(6)}"
    row = {
        "password": "!unusable",
        "last_login": None,
        "is_superuser": False,
        "username": username,
        "first_name": "",
        "last_name": "",
        "email": f"{username}@example.invalid",
        "is_staff": False,
        "is_active": True,
        "date_joined": SEED_TIME,
    }
    return int(_insert(conn, "auth_user", row, id=id))


def insert_account(
    conn: Conn, user_id: int | None = None, *, address: str | None = None, id: int | None = None
) -> int:
    """An `account_account` (the owner of API keys and communities), with a new user if none given."""
    row = {
        "address": (address or _random_address()).lower(),
        "user_id": user_id if user_id is not None else insert_user(conn),
    }
    return int(_insert(conn, "account_account", row, id=id))


def insert_api_key(
    conn: Conn,
    account_id: int,
    *,
    key: str | None = None,
    hash_kind: HashKind = "sha256",
    revoked: bool = False,
    expiry_date: datetime | None = None,
    rate_limit: str | None = "125/15m",
    read_scores: bool = True,
    name: str | None = None,
    iterations: int = 1000,
) -> tuple[str, str]:
    """An `account_accountapikey`; returns (plaintext key, key id).

    `hash_kind` picks how the key is stored, i.e. which verification path it takes:
    - "sha256": `hashed_key` and `hashed_key_sha256` both `sha256$<hex>` (fast path, no PBKDF2);
    - "pbkdf2_with_sha256": PBKDF2 `hashed_key` plus `hashed_key_sha256`, as keys look in production;
    - "pbkdf2": PBKDF2 `hashed_key` only: a legacy key, migrated on its first use;
    - "sha256_in_hashed_key": `sha256$<hex>` in `hashed_key`, `hashed_key_sha256` NULL.
    PBKDF2 uses `iterations` rounds (Django uses 600000; the default keeps tests fast).
    """
    key = key or _random_key()
    prefix = key.split(".", 1)[0]
    if len(prefix) > 8:
        raise ValueError(f"API key prefix {prefix!r} is longer than the column's 8 characters")
    sha = sha256_field(key)
    if hash_kind in ("sha256", "sha256_in_hashed_key"):
        hashed_key = sha
    else:
        hashed_key = django_pbkdf2(key, salt=_random_text(22), iterations=iterations)
    row = {
        "id": f"{prefix}.{hashed_key}",
        "prefix": prefix,
        "hashed_key": hashed_key,
        "created": SEED_TIME,
        "name": name or f"key {prefix}",
        "revoked": revoked,
        "expiry_date": expiry_date,
        "account_id": account_id,
        "rate_limit": rate_limit,
        "create_scorers": False,
        "read_scores": read_scores,
        "submit_passports": True,
        "analysis_rate_limit": "15/15m",
        "historical_endpoint": False,
        "embed_rate_limit": "0/15m",
        "hashed_key_sha256": sha if hash_kind in ("sha256", "pbkdf2_with_sha256") else None,
    }
    return key, str(_insert(conn, "account_accountapikey", row))


def django_pbkdf2(password: str, *, salt: str, iterations: int) -> str:
    """Django's `pbkdf2_sha256` password hash, the format of legacy `hashed_key` values."""
    derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(derived).decode()}"


def sha256_field(key: str) -> str:
    """The `hashed_key_sha256` value of a plaintext key."""
    return "sha256$" + hashlib.sha256(key.encode()).hexdigest()


def insert_scorer(
    conn: Conn,
    *,
    kind: ScorerKind = "WEIGHTED_BINARY",
    weights: Mapping[str, Any] | None,
    threshold: str = "20.00000",
    id: int | None = None,
) -> int:
    """A scorer: the `scorer_weighted_scorer` base row and its child row of `kind`.

    `weights` is stored as given (None stores NULL); floats stay floats, as the scoring reads them.
    """
    scorer_id = int(
        _insert(conn, "scorer_weighted_scorer", {"type": kind, "exclude_from_weight_updates": False}, id=id)
    )
    child = {
        "scorer_ptr_id": scorer_id,
        "weights": None if weights is None else Jsonb(dict(weights)),
        "threshold": Decimal(threshold),
    }
    _insert(conn, _SCORER_TABLES[kind], child, returning="scorer_ptr_id")
    return scorer_id


def insert_community(
    conn: Conn,
    account_id: int,
    scorer_id: int,
    *,
    name: str,
    rule: str = "LIFO",
    external_scorer_id: str | None = None,
    human_points_program: bool = False,
    deleted_at: datetime | None = None,
    id: int | None = None,
) -> int:
    """An `account_community` (what the API calls a scorer) using scorer `scorer_id`."""
    row = {
        "name": name,
        "description": f"{name} (seeded)"[:100],
        "account_id": account_id,
        "scorer_id": scorer_id,
        "created_at": SEED_TIME,
        "rule": rule,
        "use_case": "testing",
        "deleted_at": deleted_at,
        "external_scorer_id": external_scorer_id,
        "human_points_program": human_points_program,
    }
    return int(_insert(conn, "account_community", row, id=id))


def insert_ceramic_stamp(
    conn: Conn,
    address: str,
    vc: Mapping[str, Any],
    *,
    provider: str | None = None,
    type: int = 1,
    updated_at: datetime | None = None,
    deleted_at: datetime | None = None,
) -> int:
    """A `ceramic_cache_ceramiccache` row holding credential `vc` for `address`.

    The address is lower-cased, as Django's address field does on every write. The `provider`
    column defaults to the credential's provider; the date and proof columns are copied from the
    credential where it has readable values, as the ceramic-cache API does.
    """
    if provider is None:
        provider = str(vc["credentialSubject"]["provider"])
    row = {
        "address": address.lower(),
        "provider": provider,
        "stamp": Jsonb(dict(vc)),
        "created_at": SEED_TIME,
        "updated_at": updated_at or SEED_TIME,
        "type": type,
        "deleted_at": deleted_at,
        "compose_db_save_status": "",
        "compose_db_stream_id": "",
        "expiration_date": _parse_time(vc.get("expirationDate")),
        "issuance_date": _parse_time(vc.get("issuanceDate")),
        "proof_value": _proof_value(vc),
        "source_app": 1,
        "source_scorer_id": None,
    }
    return int(_insert(conn, "ceramic_cache_ceramiccache", row))


def revoke_ceramic(conn: Conn, ceramic_id: int) -> int:
    """Revoke a ceramic-cache stamp (a `ceramic_cache_revocation` row); returns the revocation id."""
    fetched = conn.execute(
        "INSERT INTO ceramic_cache_revocation (proof_value, ceramic_cache_id, revocation_list_id)"
        " SELECT proof_value, id, NULL FROM ceramic_cache_ceramiccache WHERE id = %s RETURNING id",
        (ceramic_id,),
    ).fetchone()
    if fetched is None:
        raise LookupError(f"no ceramic-cache row {ceramic_id}")
    return int(fetched[0])


def insert_hash_link(conn: Conn, hash: str, community_id: int, address: str, expires_at: datetime) -> int:
    """A `registry_hashscorerlink`: `address` owns nullifier `hash` in the community until `expires_at`."""
    row = {"hash": hash, "address": address, "expires_at": expires_at, "community_id": community_id}
    return int(_insert(conn, "registry_hashscorerlink", row))


def insert_address_list(conn: Conn, name: str, members: Iterable[str]) -> int:
    """An `account_addresslist` and its members (lower-cased, as Django stores them)."""
    list_id = int(_insert(conn, "account_addresslist", {"name": name}))
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO account_addresslistmember (address, list_id) VALUES (%s, %s)",
            [(member.lower(), list_id) for member in members],
        )
    return list_id


def insert_customization(
    conn: Conn,
    community_id: int,
    *,
    allow_lists: Mapping[int, str] | None = None,
    custom_credentials: Mapping[str, str] | None = None,
    path: str | None = None,
) -> int:
    """An `account_customization` of a community, with its weight overrides.

    `allow_lists` maps an address-list id to its weight (scored as provider `AllowList#<list name>`);
    `custom_credentials` maps a custom provider id (e.g. `DeveloperList#Name#1a2b3c4d`) to its
    weight, creating the platform and rule set each custom credential needs.
    """
    row = {
        "path": path or f"custom-{community_id}-{secrets.token_hex(3)}",
        "scorer_id": community_id,
        "use_custom_dashboard_panel": False,
        "body_display_info_tooltip": False,
        "button_action_type": "Simple Link",
        "show_explanation_panel": True,
        "partner_name": "Seeded partner",
    }
    customization_id = int(_insert(conn, "account_customization", row))
    for list_id, weight in (allow_lists or {}).items():
        allow = {
            "weight": Decimal(weight),
            "address_list_id": list_id,
            "customization_id": customization_id,
        }
        _insert(conn, "account_allowlist", allow)
    for provider_id, weight in (custom_credentials or {}).items():
        _insert_custom_credential(conn, customization_id, provider_id, weight)
    return customization_id


def _insert_custom_credential(conn: Conn, customization_id: int, provider_id: str, weight: str) -> int:
    name = provider_id.split("#")[1] if provider_id.count("#") >= 2 else provider_id
    platform = {"platform_type": "DEVEL", "name": f"{name}-{secrets.token_hex(3)}", "display_name": name}
    ruleset = {
        "credential_type": "DEVEL",
        "definition": Jsonb({"name": name, "condition": {}}),
        "name": name[:64],
        "provider_id": provider_id,
    }
    credential = {
        "weight": Decimal(weight),
        "display_name": name[:64],
        "description": None,
        "customization_id": customization_id,
        "platform_id": _insert(conn, "account_customplatform", platform),
        "ruleset_id": _insert(conn, "account_customcredentialruleset", ruleset),
    }
    return int(_insert(conn, "account_customcredential", credential))


def seed_human_points_config(conn: Conn) -> None:
    """The ten active `registry_humanpointsconfig` rows Django's migration seeds (idempotent)."""
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO registry_humanpointsconfig (action, points, active) VALUES (%s, %s, true)"
            " ON CONFLICT (action) DO UPDATE SET points = EXCLUDED.points, active = true",
            list(HUMAN_POINTS_CONFIG.items()),
        )


def insert_human_points(
    conn: Conn,
    address: str,
    action: str,
    *,
    tx_hash: str = "",
    chain_id: int = 0,
    provider: str = "",
    timestamp: datetime | None = None,
) -> int:
    """A `registry_humanpoints` row: `address` earned `action` (e.g. an earlier HKY or PMT)."""
    row = {
        "address": address.lower(),
        "action": action,
        "timestamp": timestamp or SEED_TIME,
        "tx_hash": tx_hash,
        "chain_id": chain_id,
        "provider": provider,
    }
    return int(_insert(conn, "registry_humanpoints", row))


def insert_qualified_user(conn: Conn, address: str, community_id: int) -> int:
    """A `registry_humanpointscommunityqualifiedusers` row: `address` passed in that community."""
    row = {"address": address.lower(), "community_id": community_id}
    return int(_insert(conn, "registry_humanpointscommunityqualifiedusers", row))


def insert_human_points_multiplier(conn: Conn, address: str, multiplier: int) -> str:
    """A `registry_humanpointsmultiplier` row (the table is keyed by address)."""
    row = {"address": address.lower(), "multiplier": multiplier}
    return str(_insert(conn, "registry_humanpointsmultiplier", row, returning="address"))


# --- the demo data set --------------------------------------------------------------------------

DEMO_API_KEY = "DemoKey1.LocalDemoOnly0123456789abcdefghi"
DEMO_ACCOUNT_ID = 900
DEMO_COMMUNITY_ID = 901
DEMO_EXTERNAL_SCORER_ID = "demo-binary-scorer"
DEMO_HUMAN_POINTS_COMMUNITY_ID = 902
DEMO_ADDRESS = "0xd3e0a4c5b6f7081920a1b2c3d4e5f60718293a4b"
DEMO_EXPIRATION = "2031-12-31T23:59:59.999Z"
# The ceramic-cache routes: the community they score and the key that signs the sample events' JWTs.
DEMO_CERAMIC_CACHE_SCORER_ID = DEMO_COMMUNITY_ID
DEMO_SECRET_KEY = "demo-jwt-signing-key-local-only"
DEMO_WEIGHTS = {
    "Google": 0.525,
    "Ens": 0.208,
    "Linkedin": 1.531,
    "CoinbaseDualVerification2": 10.042,
    "BinanceBABT2": 10.021,
    "Discord": 0.516,
    "GnosisSafe": 0.222,
    "Lens": 0.23,
    "NFT": 1.032,
    "Brightid": 0.202,
    "HolonymPhone": 1.521,
    "SelfStakingBronze": 0.897,
}
# The demo address holds these stamps: 25.261 in total, above the threshold of 20.
DEMO_STAMP_PROVIDERS = (
    "Google",
    "Ens",
    "Linkedin",
    "CoinbaseDualVerification2",
    "BinanceBABT2",
    "Discord",
    "HolonymPhone",
    "SelfStakingBronze",
)


@dataclass(frozen=True)
class DemoData:
    """What a demo request needs: the key to send, where to send it, and what to expect."""

    api_key: str
    api_key_id: str
    account_id: int
    community_id: int
    external_scorer_id: str
    human_points_community_id: int
    address: str
    issuer_did: str
    providers: tuple[str, ...]
    expected_score: Decimal

    @property
    def trusted_iam_issuers(self) -> str:
        """The `TRUSTED_IAM_ISSUERS` value under which the demo credentials are accepted."""
        return json.dumps([self.issuer_did])


def demo_dataset(conn: Conn) -> DemoData:
    """Load the demo account, key, communities and credentials unless they are already there.

    Everything is inserted in one transaction with fixed ids, so a database either has the
    whole data set or none of it, and a second call only reads.
    """
    issuer = issuer_key()
    with conn.transaction():
        key_id = _existing_demo_key_id(conn)
        if key_id is None:
            key_id = _insert_demo_rows(conn)
    return DemoData(
        api_key=DEMO_API_KEY,
        api_key_id=key_id,
        account_id=DEMO_ACCOUNT_ID,
        community_id=DEMO_COMMUNITY_ID,
        external_scorer_id=DEMO_EXTERNAL_SCORER_ID,
        human_points_community_id=DEMO_HUMAN_POINTS_COMMUNITY_ID,
        address=DEMO_ADDRESS,
        issuer_did=issuer.did,
        providers=DEMO_STAMP_PROVIDERS,
        expected_score=sum((Decimal(str(DEMO_WEIGHTS[p])) for p in DEMO_STAMP_PROVIDERS), Decimal(0)),
    )


def _existing_demo_key_id(conn: Conn) -> str | None:
    fetched = conn.execute(
        "SELECT id FROM account_accountapikey WHERE prefix = %s", (DEMO_API_KEY.split(".")[0],)
    ).fetchone()
    return None if fetched is None else str(fetched[0])


def _insert_demo_rows(conn: Conn) -> str:
    user_id = insert_user(conn, username="demo", id=DEMO_ACCOUNT_ID)
    account_id = insert_account(conn, user_id, address="0x" + "d" * 40, id=DEMO_ACCOUNT_ID)
    _, key_id = insert_api_key(
        conn, account_id, key=DEMO_API_KEY, hash_kind="pbkdf2_with_sha256", name="demo key"
    )
    scorer_id = insert_scorer(conn, weights=DEMO_WEIGHTS, id=DEMO_COMMUNITY_ID)
    insert_community(
        conn,
        account_id,
        scorer_id,
        name="Demo binary scorer",
        external_scorer_id=DEMO_EXTERNAL_SCORER_ID,
        id=DEMO_COMMUNITY_ID,
    )
    points_scorer_id = insert_scorer(conn, weights=DEMO_WEIGHTS, id=DEMO_HUMAN_POINTS_COMMUNITY_ID)
    insert_community(
        conn,
        account_id,
        points_scorer_id,
        name="Demo Human Points",
        human_points_program=True,
        id=DEMO_HUMAN_POINTS_COMMUNITY_ID,
    )
    seed_human_points_config(conn)
    for provider in DEMO_STAMP_PROVIDERS:
        vc = issue_stamp(DEMO_ADDRESS, provider, expiration=DEMO_EXPIRATION)
        insert_ceramic_stamp(conn, DEMO_ADDRESS, vc)
    return key_id


# --- helpers ------------------------------------------------------------------------------------


def _insert(conn: Conn, table: str, row: Mapping[str, Any], *, returning: str = "id", id: Any = None) -> Any:
    """INSERT one row (with an explicit id if given) and return its `returning` column."""
    columns = dict(row) if id is None else {"id": id, **row}
    query = sql.SQL("INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING {returning}").format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        values=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        returning=sql.Identifier(returning),
    )
    fetched = conn.execute(query, list(columns.values())).fetchone()
    assert fetched is not None  # INSERT ... RETURNING always returns the row
    return fetched[0]


def _parse_time(value: Any) -> datetime | None:
    """A credential date as a timestamp, or None where it is missing or malformed (invalid variants)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _proof_value(vc: Mapping[str, Any]) -> str:
    proof = vc.get("proof")
    value = proof.get("proofValue") if isinstance(proof, dict) else None
    return value if isinstance(value, str) else ""


def _random_key() -> str:
    return f"{_random_text(8)}.{_random_text(32)}"


def _random_text(length: int) -> str:
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(length))


def _random_address() -> str:
    return "0x" + secrets.token_hex(20)
