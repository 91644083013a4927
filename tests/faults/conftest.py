"""Fixtures of the fault suite: the integration world (its database URL comes from the shared fixtures, so the
suite runs the same way directly and through a connection pooler) and a fault proxy in front of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from scorer_core import db
from scorer_core.settings import get_settings
from tests.integration.conftest import configure, world  # noqa: F401  (shared fixtures, re-exported)
from tests.integration.world import World

from .proxy import FaultProxy


@pytest.fixture
def proxied(world: World, configure: Callable[..., None]) -> Iterator[FaultProxy]:  # noqa: F811
    """The service's pool pointed at a fault proxy in front of the world's database; restored afterwards."""
    proxy = FaultProxy.for_dsn(world.url)
    db.close_pool()
    configure(DATABASE_URL=proxy.dsn_through(world.url), DB_CONNECT_TIMEOUT="2")
    try:
        yield proxy
    finally:
        proxy.close()
        db.close_pool()
        configure(DATABASE_URL=world.url)
        get_settings.cache_clear()
