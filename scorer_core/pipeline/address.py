"""What the pipeline accepts as an address: the rule every route applies before scoring."""

from __future__ import annotations

_HEX_DIGITS = frozenset("0123456789abcdef")


def is_valid_address(address: str) -> bool:
    """``(0x)?`` then 40 hex digits, checked on the lower-cased input, so any checksum casing passes."""
    digits = address[2:] if address.startswith("0x") else address
    return len(digits) == 40 and _HEX_DIGITS.issuperset(digits)
