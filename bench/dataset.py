"""The benchmark's data: signed passports for each measured case, on top of a realistic background.

Measured cases (all in binary weighted scorers with a weight for every provider):
- one address each with 10, 30 and 60 valid stamps of distinct providers;
- a LIFO clash: an address half of whose stamps carry nullifiers that another address already holds;
- a Human Points community (``human_points_program``), with an address that earns stamp actions, Human
  Keys, the scoring bonus (already qualified in three other communities) and an address-list bonus;
- a few more 10-stamp addresses, re-scored side by side by the throughput workers.

The background (``bench.background``) fills the tables the request reads and writes, so that lookups and
index maintenance cost what they would on a used database.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg

from bench import background
from tools import seed
from tools.credentials import default_nullifier, issue_stamp, issuer_key

EXPIRATION = "2031-12-31T23:59:59.999Z"
HOLDER_EXPIRES_AT = "2031-12-31T00:00:00Z"
THRESHOLD = "20.00000"
THROUGHPUT_ADDRESSES = 8
CLASHING_STAMPS = 5
HUMAN_POINTS_LIST = "SeasonedPassportOGs"

# Real Passport provider names, so credentials and rows have their usual sizes.
PROVIDERS: tuple[str, ...] = (
    "Google",
    "Ens",
    "Linkedin",
    "Discord",
    "Github",
    "NFT",
    "NFTScore#50",
    "NFTScore#75",
    "Lens",
    "Brightid",
    "CoinbaseDualVerification2",
    "BinanceBABT2",
    "GnosisSafe",
    "POAP",
    "SelfStakingBronze",
    "SelfStakingSilver",
    "SelfStakingGold",
    "BeginnerCommunityStaker",
    "ExperiencedCommunityStaker",
    "TrustedCitizen",
    "HolonymGovIdProvider",
    "HolonymPhone",
    "CleanHands",
    "Biometrics",
    "ETHDaysActive#50",
    "ETHGasSpent#0.25",
    "ETHnumTransactions#100",
    "ETHScore#50",
    "ETHScore#75",
    "ETHScore#90",
    "ETHAdvocate",
    "ETHPioneer",
    "ETHMaxi",
    "Outdid",
    "TrustaLabs",
    "ZkSyncEra",
    "zkSyncScore#5",
    "zkSyncScore#10",
    "zkSyncScore#20",
    "Linea",
    "IdenaState#Human",
    "IdenaState#Verified",
    "IdenaState#Newbie",
    "CivicCaptchaPass",
    "CivicUniquenessPass",
    "CivicLivenessPass",
    "GuildAdmin",
    "GuildPassportMember",
    "SnapshotProposalsProvider",
    "SnapshotVotesProvider",
    "twitterAccountAgeGte#180",
    "twitterAccountAgeGte#365",
    "githubContributionActivityGte#30",
    "githubContributionActivityGte#60",
    "githubContributionActivityGte#120",
    "GitcoinContributorStatistics#totalContributionAmountGte#10",
    "GitcoinContributorStatistics#numGrantsContributeToGte#10",
    "CyberProfilePremium",
    "HumanIdKyc",
    "HumanIdPhone",
    "Farcaster",
    "Coinbase",
)
# Weights between 2 and 6: ten stamps pass the threshold of 20, as a typical passing passport does.
WEIGHTS: dict[str, float] = {name: 2.0 + (i * 37 % 9) * 0.5 for i, name in enumerate(PROVIDERS)}
# The Human Points passport: four providers that map to point actions, six that do not.
HUMAN_POINTS_PROVIDERS: tuple[str, ...] = (
    "SelfStakingBronze",
    "BeginnerCommunityStaker",
    "HolonymGovIdProvider",
    "HolonymPhone",
    "Google",
    "Ens",
    "Linkedin",
    "Discord",
    "Github",
    "Lens",
)


@dataclass(frozen=True)
class Case:
    """One measured request: an address scored in one community."""

    name: str
    scorer_id: int
    address: str
    stamps: int
    human_points: bool = False


@dataclass(frozen=True)
class BenchData:
    api_key: str
    issuer_did: str
    cases: tuple[Case, ...]
    throughput_scorer_id: int
    throughput_addresses: tuple[str, ...]
    background: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchData:
        return cls(
            api_key=data["api_key"],
            issuer_did=data["issuer_did"],
            cases=tuple(Case(**case) for case in data["cases"]),
            throughput_scorer_id=data["throughput_scorer_id"],
            throughput_addresses=tuple(data["throughput_addresses"]),
            background=data["background"],
        )


def load(dsn: str, background_addresses: int) -> BenchData:
    """Fill an empty database (our copy of the Django tables) with the benchmark data: what to send."""
    with psycopg.connect(dsn) as conn:
        account_id = seed.insert_account(conn, address=bench_address("account"))
        api_key, api_key_id = seed.insert_api_key(
            conn, account_id, hash_kind="pbkdf2_with_sha256", name="benchmark key", rate_limit=None
        )
        main = _community(conn, account_id, "Benchmark binary scorer")
        points = _community(conn, account_id, "Benchmark Human Points", human_points=True)
        others = [_community(conn, account_id, f"Background scorer {n}") for n in range(1, 4)]
        seed.seed_human_points_config(conn)
        counts = background.load(
            conn,
            addresses=background_addresses,
            communities=[main, points, *others],
            weights=WEIGHTS,
            providers=PROVIDERS,
            api_key_id=api_key_id,
            credential_template=issue_stamp(bench_address("template"), "Google", expiration=EXPIRATION),
        )
        cases = [_stamps_case(conn, main, f"{count} stamps", PROVIDERS[:count]) for count in (10, 30, 60)]
        cases.append(_clash_case(conn, main))
        cases.append(_human_points_case(conn, points, others))
        throughput = tuple(
            _stamps_case(conn, main, f"throughput {n}", PROVIDERS[:10]).address
            for n in range(THROUGHPUT_ADDRESSES)
        )
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return BenchData(
        api_key=api_key,
        issuer_did=issuer_key().did,
        cases=tuple(cases),
        throughput_scorer_id=main,
        throughput_addresses=throughput,
        background=counts,
    )


def bench_address(label: str) -> str:
    """A stable, random-looking address per label."""
    return "0x" + hashlib.sha256(f"passport benchmark {label}".encode()).hexdigest()[:40]


def _community(conn: seed.Conn, account_id: int, name: str, *, human_points: bool = False) -> int:
    scorer_id = seed.insert_scorer(conn, weights=WEIGHTS, threshold=THRESHOLD)
    return seed.insert_community(conn, account_id, scorer_id, name=name, human_points_program=human_points)


def _stamp_credentials(conn: seed.Conn, address: str, providers: tuple[str, ...]) -> None:
    for provider in providers:
        seed.insert_ceramic_stamp(conn, address, issue_stamp(address, provider, expiration=EXPIRATION))


def _stamps_case(conn: seed.Conn, community_id: int, name: str, providers: tuple[str, ...]) -> Case:
    address = bench_address(name)
    _stamp_credentials(conn, address, providers)
    return Case(name=name, scorer_id=community_id, address=address, stamps=len(providers))


def _clash_case(conn: seed.Conn, community_id: int) -> Case:
    """Ten stamps; another address holds unexpired hash links for the nullifiers of the first five."""
    address, holder = bench_address("lifo clash"), bench_address("lifo clash holder")
    providers = PROVIDERS[:10]
    _stamp_credentials(conn, address, providers)
    for provider in providers[:CLASHING_STAMPS]:
        nullifier = default_nullifier(provider, address)
        seed.insert_hash_link(conn, nullifier, community_id, holder, _timestamp(HOLDER_EXPIRES_AT))
    return Case(name="LIFO clash", scorer_id=community_id, address=address, stamps=len(providers))


def _human_points_case(conn: seed.Conn, community_id: int, qualified_elsewhere: list[int]) -> Case:
    address = bench_address("human points")
    _stamp_credentials(conn, address, HUMAN_POINTS_PROVIDERS)
    for other in qualified_elsewhere:
        seed.insert_qualified_user(conn, address, other)
    seed.insert_address_list(conn, HUMAN_POINTS_LIST, [address])
    return Case(
        name="Human Points",
        scorer_id=community_id,
        address=address,
        stamps=len(HUMAN_POINTS_PROVIDERS),
        human_points=True,
    )


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_RESET = (
    """DELETE FROM registry_stamp WHERE passport_id IN
       (SELECT id FROM registry_passport WHERE address = %(address)s AND community_id = %(community)s)""",
    """DELETE FROM registry_score WHERE passport_id IN
       (SELECT id FROM registry_passport WHERE address = %(address)s AND community_id = %(community)s)""",
    "DELETE FROM registry_passport WHERE address = %(address)s AND community_id = %(community)s",
    "DELETE FROM registry_hashscorerlink WHERE address = %(address)s AND community_id = %(community)s",
    "DELETE FROM registry_event WHERE address = %(address)s AND community_id = %(community)s",
)
_RESET_HUMAN_POINTS = (
    "DELETE FROM registry_humanpoints WHERE address = %(address)s",
    """DELETE FROM registry_humanpointscommunityqualifiedusers
       WHERE address = %(address)s AND community_id = %(community)s""",
)


def reset(conn: psycopg.Connection[Any], case: Case) -> None:
    """Undo what scoring ``case`` wrote, so that the next request is a first score (one transaction)."""
    params = {"address": case.address, "community": case.scorer_id}
    statements = _RESET + (_RESET_HUMAN_POINTS if case.human_points else ())
    with conn.transaction(), conn.pipeline():
        for statement in statements:
            conn.execute(statement, params)
