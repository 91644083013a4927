"""``POST /internal/embed/stamps/{address}``: replace the address's cached stamps, score it, list its stamps.

Checks in the reference's order (body, payload, path, address, providers, the 100-stamp limit, rows, then the
community), in one transaction with the cache write and the pipeline: any non-2xx answer leaves no row
changed (agreed deviation 10), a scoring failure still commits the rows and the ERROR score with 200.
Round trips: communities, passport lock, cache write and its read-backs | scoring state | writes | COMMIT.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from scorer_core import db
from scorer_core.cache_rows import SOURCE_APP_EMBED, check_bulk_size, plan_rows
from scorer_core.db.ceramic_cache import lock_passport, replace_stamps
from scorer_core.db.request_context import queue_owner_context, scoring_rows
from scorer_core.embed.addresses import is_address
from scorer_core.embed.outcome import CommunityNotFound, EmbedOutcome, error_outcome
from scorer_core.embed.payload import parse_payload, stamp_providers
from scorer_core.embed.request import STAMPS_PATH, EmbedRequest, parse_body, path_match
from scorer_core.errors import InvalidAddress
from scorer_core.pipeline.community import as_community_id, check_scorer_model, choose_community
from scorer_core.pipeline.score_address import Timings, score_address
from scorer_core.responses.stamps import fresh_score_object, stamps_with_score_body
from scorer_core.settings import Settings, get_settings


def save_stamps(
    request: EmbedRequest,
    *,
    dry_run: bool = False,
    settings: Settings | None = None,
    timings: Timings | None = None,
) -> EmbedOutcome:
    settings = settings or get_settings()
    timings = timings or Timings()
    try:
        payload = parse_payload(parse_body(request))
        scorer_id = _demo_scorer(payload.scorer_id, settings.demo_api_scorer_id)
        raw_address = path_match(STAMPS_PATH, request.path)["address"]
        if not is_address(raw_address):
            raise InvalidAddress()
        address = raw_address.lower()
        providers = stamp_providers(payload.stamps)
        check_bulk_size(len(payload.stamps))
        community_id = as_community_id(scorer_id)
        rows = plan_rows(
            zip(providers, payload.stamps, strict=True),
            source_app=SOURCE_APP_EMBED,
            source_scorer_id=community_id,
        )

        def work(conn: psycopg.Connection[Any]) -> EmbedOutcome:
            fetch_context = queue_owner_context(conn, community_id, scorer_id, address)
            cache = replace_stamps(
                conn, address, providers, rows, only_v1=True, now=datetime.now(UTC), list_only_v1=True
            )
            context = fetch_context()
            if not context.communities:
                raise CommunityNotFound()
            community = choose_community(context.communities, scorer_id)
            check_scorer_model(community)
            scoring = cache.scoring_rows
            if not context.locked and community_id is not None:
                # A concurrent request created the passport first: lock it now and read what it committed.
                lock_passport(conn, address, community_id)
                scoring = scoring_rows(conn, address)
            scored = score_address(conn, community, address, scoring, settings, timings)
            body = stamps_with_score_body(
                cache.stamps, fresh_score_object(address, scored.result, scored.error)
            )
            return EmbedOutcome(200, body, "200 OK", scored.error, scored.lifo_attempts)

        return db.run_transaction(work, commit=not dry_run)
    except Exception as exc:
        return error_outcome(exc)


def _demo_scorer(scorer_id: int, demo_scorer_id: str | None) -> str | None:
    """The scorer id as text (how communities are matched); a negative one names the demo community."""
    return demo_scorer_id if scorer_id < 0 else str(scorer_id)
