"""Human Points: which point rows a passing score earns.

Decisions are pure over ``HumanPointsFacts`` read beforehand; the repository writes the rows. Human Keys are
deduplicated by provider (nullifiers rotate), stamp actions by the database's unique constraint.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from scorer_core.models import HumanPointRow, HumanPointsFacts, Stamp

STAMP_PROVIDER_TO_ACTION: dict[str, str] = {
    "SelfStakingBronze": "ISB",
    "SelfStakingSilver": "ISS",
    "SelfStakingGold": "ISG",
    "BeginnerCommunityStaker": "CSB",
    "ExperiencedCommunityStaker": "CSE",
    "TrustedCitizen": "CST",
    "HolonymGovIdProvider": "HGO",
    "HolonymPhone": "HPH",
    "CleanHands": "HCH",
    "Biometrics": "HBI",
}

METAMASK_LIST, METAMASK_ACTION, METAMASK_CAP = "MetaMaskOG2", "MM2", 5000
BONUS_LISTS: tuple[tuple[str, str], ...] = (("SeasonedPassportOGs", "SOG"), ("TheChosenOnes", "TCO"))
ALL_BONUS_LISTS: tuple[str, ...] = (METAMASK_LIST, *(name for name, _ in BONUS_LISTS))
SCORING_BONUS_ACTION, SCORING_BONUS_COMMUNITIES = "SCB", 4


def is_earned(score: Decimal, now: datetime, start_timestamp: int) -> bool:
    """A passing (binary) score once the program has started; the caller checks the flag and the community."""
    return score == Decimal("1") and now.timestamp() >= start_timestamp


def rows_earned(stamps: Sequence[Stamp], facts: HumanPointsFacts, mta_enabled: bool) -> list[HumanPointRow]:
    """Every point row a passing score writes (duplicates are left to the unique constraint)."""
    rows = stamp_actions(stamps, facts.hky_providers)
    rows += [HumanPointRow(action, "", "") for action in bonus_actions(facts, mta_enabled)]
    return rows


def stamp_actions(stamps: Sequence[Stamp], hky_providers: frozenset[str]) -> list[HumanPointRow]:
    """Human Keys (last non-empty nullifier, per subject provider not yet rewarded) and provider-mapped actions."""
    rows: list[HumanPointRow] = []
    for stamp in stamps:
        credential = stamp.credential.get("credentialSubject", {}) if stamp.credential else {}
        subject_nullifiers = credential.get("nullifiers", [])
        if isinstance(subject_nullifiers, list) and any(subject_nullifiers):
            provider = credential.get("provider")
            if provider and provider not in hky_providers:
                latest = next((value for value in reversed(subject_nullifiers) if value), None)
                if latest:
                    rows.append(HumanPointRow("HKY", latest, provider))
        action = STAMP_PROVIDER_TO_ACTION.get(stamp.provider)
        if action:
            rows.append(HumanPointRow(action, "", ""))
    return rows


def bonus_actions(facts: HumanPointsFacts, mta_enabled: bool) -> list[str]:
    """Scoring bonus (qualified in 4+ communities, this one included) and address-list bonuses, in order."""
    actions: list[str] = []
    qualified = facts.qualified_elsewhere + 1
    if qualified >= SCORING_BONUS_COMMUNITIES and not facts.has_scb:
        actions.append(SCORING_BONUS_ACTION)
    if (
        mta_enabled
        and METAMASK_LIST in facts.list_members
        and facts.mm2_count < METAMASK_CAP
        and METAMASK_ACTION not in facts.awarded
    ):
        actions.append(METAMASK_ACTION)
    for list_name, action in BONUS_LISTS:
        if list_name in facts.list_members and action not in facts.awarded:
            actions.append(action)
    return actions
