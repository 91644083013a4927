"""Fixtures for end-to-end tests of the score handler on a real database."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from scorer_core.settings import get_settings
from tools import credentials

from .ceramic import SECRET, CacheWorld
from .world import World, build_world

BASE_ENV = {
    "FF_API_ANALYTICS": "on",
    "FF_MULTI_NULLIFIER": "off",
    "RATELIMIT_ENABLE": "off",
    "HUMAN_POINTS_ENABLED": "off",
}


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set service environment variables for one test; settings are re-read, the pool kept."""

    def apply(**env: str) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    issuers = f'["{credentials.issuer_key().did}"]'
    apply(TRUSTED_IAM_ISSUERS=issuers, **BASE_ENV)
    yield apply
    for name in ("DEMO_API_KEY", "DEMO_API_KEY_ALIASES", "DEMO_API_SCORER_ID", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()


@pytest.fixture
def world(clean_db: str, configure: Callable[..., None]) -> World:
    return build_world(clean_db)


@pytest.fixture
def cache_world(world: World, configure: Callable[..., None]) -> Iterator[CacheWorld]:
    """The world with the ceramic-cache settings: the JWT key and the scored community."""
    from scorer_core.ceramic_cache import weights

    configure(SECRET_KEY=SECRET, CERAMIC_CACHE_SCORER_ID=str(world.community_id))
    weights.clear_cache()
    yield CacheWorld(world, configure)
    weights.clear_cache()
