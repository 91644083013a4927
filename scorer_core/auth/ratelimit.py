"""Per-key rate limiting that shares its Redis counters with the reference's limiter.

Keys, windows and counting follow django-ratelimit 4.1 as the reference configures it (group ``registry``, the
key's prefix as value, fixed windows offset per key by a crc32 jitter), so both systems can run side by side on
the same counters. Redis being unreachable fails open, logged and counted by the caller.
"""

from __future__ import annotations

import hashlib
import re
import time
import zlib
from dataclasses import dataclass
from functools import cache
from typing import Any

GROUP = "registry"
_RATE = re.compile(r"([\d]+)/([\d]*)([smhd])?")
_UNITS = {"s": 1, "m": 60, "h": 60 * 60, "d": 24 * 60 * 60}
_EXPIRY_FUDGE = 5


@dataclass(frozen=True, slots=True)
class Rate:
    count: int
    seconds: int


def parse_rate(rate: str) -> Rate:
    """``125/15m`` → 125 per 900 s; trailing text is ignored and a missing multiplier means 1, as upstream."""
    match = _RATE.match(rate)
    if match is None:
        raise AttributeError("'NoneType' object has no attribute 'groups'")
    count, multiplier, unit = match.groups()
    return Rate(int(count), int(multiplier or 1) * _UNITS[unit or "s"])


def window_end(prefix: str, period: int, now: int) -> int:
    if period == 1:
        return now
    end = now - (now % period) + (zlib.crc32(prefix.encode("utf-8")) % period)
    return end + period if end < now else end


def counter_key(prefix: str, rate: Rate, now: int) -> str:
    """The Redis key, including Django's cache prefix and version (``:1:``)."""
    parts = GROUP + f"{rate.count}/{rate.seconds}s" + prefix + str(window_end(prefix, rate.seconds, now)) + ""
    return ":1:rl:" + hashlib.sha256(parts.encode("utf-8")).hexdigest()


@cache
def _client(url: str) -> Any:
    import redis  # imported on first use: most deployments run with limiting off

    return redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)


def is_limited(redis_url: str, prefix: str, rate: Rate, *, increment: bool = True) -> bool:
    """Count this request and say whether it exceeds the key's rate.

    ``increment=False`` (dry runs) only reads the counter, predicting the answer without touching it.
    Raises ``redis.RedisError`` when Redis cannot be reached; the caller decides to fail open.
    """
    key = counter_key(prefix, rate, int(time.time()))
    client = _client(redis_url)
    if not increment:
        current = client.get(key)
        return int(current or 0) > rate.count
    if client.set(key, 1, nx=True, ex=rate.seconds + _EXPIRY_FUDGE):
        count = 1
    elif client.exists(key):
        count = int(client.incr(key))
    else:
        return False  # the window expired between the two calls: upstream treats this as not limited
    return count > rate.count


def reset_breaker() -> None:
    """Close every circuit breaker (tests)."""
