"""Which handler module serves a path: one per route family, imported only when a request needs it.

The shadow consumer and the local replay answer records of every route; a record goes to the family its path
names, and an environment that only ever sees v2 records never imports the embed or ceramic-cache code.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

# Path prefix -> handler module; each module exposes handler(event, context) and
# handle_event(event, context, *, dry_run=False).
FAMILIES: tuple[tuple[str, str], ...] = (
    ("/v2/stamps/", "handlers.score"),
    ("/internal/embed/", "handlers.embed"),
    ("/ceramic-cache/", "handlers.ceramic_cache"),
)


class DryRunEntry(Protocol):
    def __call__(self, event: dict[str, Any], context: Any, *, dry_run: bool = ...) -> dict[str, Any]: ...


class UnknownRoute(LookupError):
    """No route family serves this path."""


def module_for_path(path: str) -> str:
    """The handler module of ``path``; a leading stage segment (``/prod/...``, HTTP API) is looked past."""
    for candidate in (path, "/" + path.split("/", 2)[-1] if path.count("/") >= 2 else path):
        for prefix, module in FAMILIES:
            if candidate.startswith(prefix):
                return module
    raise UnknownRoute(f"no route family serves the path {path!r}")


def event_path(event: dict[str, Any]) -> str:
    path = event.get("path") if "path" in event else event.get("rawPath")
    return path if isinstance(path, str) else ""


def entry_for(event: dict[str, Any]) -> DryRunEntry:
    """``handle_event`` of the family that serves ``event``, imported on first use."""
    module = importlib.import_module(module_for_path(event_path(event)))
    entry: DryRunEntry = module.handle_event
    return entry


def handle_event(event: dict[str, Any], context: Any, *, dry_run: bool = False) -> dict[str, Any]:
    """Answer ``event`` with its family's handler."""
    return entry_for(event)(event, context, dry_run=dry_run)
