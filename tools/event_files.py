"""Which handler answers a sample event of ``events/``: the family named by the file name's prefix.

``score_*.json`` go to the v2 score handler, ``embed_*.json`` to the embed handler and ``ceramic_cache_*.json``
to the ceramic-cache handler. Used by the in-process event tests and by ``tools.invoke``.
"""

from __future__ import annotations

# File-name prefix -> handler ("module.function"), longest prefix first.
HANDLERS: dict[str, str] = {
    "ceramic_cache_": "handlers.ceramic_cache.handler",
    "embed_": "handlers.embed.handler",
    "score_": "handlers.score.handler",
}


def handler_for(file_name: str) -> str:
    for prefix, handler in HANDLERS.items():
        if file_name.startswith(prefix):
            return handler
    raise LookupError(f"{file_name}: no handler for this file-name prefix ({', '.join(HANDLERS)})")
