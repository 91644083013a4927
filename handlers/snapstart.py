"""Lambda SnapStart hooks: nothing that cannot survive a snapshot is in it, the rest is warmed before.

With SnapStart (template parameter ``EnableSnapStart``), Lambda runs the init phase once per published
version, snapshots the memory, and starts later environments from that snapshot. A database connection in
the snapshot would be a socket to a server that has long forgotten it, shared by every restored copy, so the
pool is closed before the snapshot and again after a restore; the next request opens a fresh connection.
What is safe to keep is loaded before: the settings, and the modules imported on first use (psycopg, its
pool, DIDKit's native library), which would otherwise cost the first request after each restore.

``snapshot_restore_py`` is provided by the Lambda Python runtime (and awslambdaric); where it is absent
(local runs, tests without it) the hooks are not registered, and may still be called directly.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from scorer_core import db
from scorer_core.settings import get_settings

# Imported on first use by the core; loaded ahead of the snapshot instead.
WARM_IMPORTS = ("psycopg", "didkit")

_registered = False


def before_snapshot() -> None:
    """Warm what a snapshot may hold, then close every database connection."""
    get_settings()
    for module in WARM_IMPORTS:
        importlib.import_module(module)
    db.close_pool()


def after_restore() -> None:
    """Drop any pool that survived into the snapshot: its sockets belong to the snapshotted process."""
    db.close_pool()


def register() -> bool:
    """Register the hooks once with the runtime; False where the runtime's module is absent."""
    global _registered
    if _registered:
        return True
    registrars = _registrars()
    if registrars is None:
        return False
    register_before_snapshot, register_after_restore = registrars
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    _registered = True
    return True


def _registrars() -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return None
    return register_before_snapshot, register_after_restore
