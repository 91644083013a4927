"""Ethereum address validity as eth-utils' ``is_address`` decides it on the text as sent.

The embed save route checks the raw path segment, so a mixed-case address must carry a valid EIP-55
checksum (the v2 route lower-cases first, where any casing passes). Keccak-256 comes from pycryptodome,
imported only for mixed-case input.
"""

from __future__ import annotations

import re

_HEX_ADDRESS = re.compile(r"(0x)?[0-9a-f]{40}", re.IGNORECASE | re.ASCII)


def is_address(value: str) -> bool:
    if _HEX_ADDRESS.fullmatch(value) is None:
        return False
    digits = value[2:] if value[:2] in ("0x", "0X") else value
    if digits.islower() or digits.isupper() or digits.isnumeric():
        return True
    return value == to_checksum_address(digits)


def to_checksum_address(hex_digits: str) -> str:
    """EIP-55: upper-case each letter whose nibble in keccak256(lower-case hex) is 8 or more."""
    from Crypto.Hash import keccak

    lower = hex_digits.lower()
    digest = keccak.new(digest_bits=256, data=lower.encode("ascii")).hexdigest()
    return "0x" + "".join(
        c.upper() if int(d, 16) >= 8 else c for c, d in zip(lower, digest[:40], strict=True)
    )
