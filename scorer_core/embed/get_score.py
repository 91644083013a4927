"""``GET /internal/embed/score/{scorer_id}/{address}``: score the address now and list its stamps.

A GET that writes, as in the reference: every call runs the whole pipeline. One transaction; any non-2xx
answer leaves nothing written. Round trips: communities, passport lock, credentials and the stamp list |
scoring state | writes | COMMIT.
"""

from __future__ import annotations

from typing import Any

import psycopg

from scorer_core import db
from scorer_core.db.ceramic_cache import fetch_visible_stamps, lock_passport, queue_visible_stamps
from scorer_core.db.request_context import queue_owner_context, queue_scoring_rows, scoring_rows
from scorer_core.embed.outcome import EmbedError, EmbedOutcome, InvalidScorerId, error_outcome
from scorer_core.embed.request import SCORE_PATH, EmbedRequest, demo_scorer, parse_body, path_match
from scorer_core.errors import InvalidAddress
from scorer_core.pipeline.address import is_valid_address
from scorer_core.pipeline.community import as_community_id, check_scorer_model, choose_community
from scorer_core.pipeline.score_address import Timings, score_address
from scorer_core.responses.stamps import fresh_score_object, stamps_with_score_body
from scorer_core.settings import Settings, get_settings


def get_score(
    request: EmbedRequest,
    *,
    dry_run: bool = False,
    settings: Settings | None = None,
    timings: Timings | None = None,
) -> EmbedOutcome:
    settings = settings or get_settings()
    timings = timings or Timings()
    try:
        parse_body(request)
        parts = path_match(SCORE_PATH, request.path)
        scorer_id = demo_scorer(parts["scorer_id"], settings.demo_api_scorer_id)
        address = parts["address"].lower()
        community_id = _community_id(scorer_id)

        def work(
            conn: psycopg.Connection[Any],
        ) -> tuple[EmbedOutcome, tuple[psycopg.Cursor[Any], dict[str, Any]]]:
            fetch_context = queue_owner_context(conn, community_id, scorer_id, address)
            fetch_rows = queue_scoring_rows(conn, address)
            # Scoring writes no cache row, so the list read under the lock is the list after scoring; read in
            # the first round trip, it also lists exactly the rows that were scored.
            listed = queue_visible_stamps(conn, address, only_v1=True)
            context = fetch_context()
            if not context.communities:
                raise InvalidScorerId()
            community = choose_community(context.communities, scorer_id)
            if not is_valid_address(address):
                raise InvalidAddress()
            check_scorer_model(community)
            rows = fetch_rows()
            if not context.locked and community_id is not None:
                # A concurrent request created the passport first: lock it now and read what it committed.
                lock_passport(conn, address, community_id)
                listed = queue_visible_stamps(conn, address, only_v1=True)
                rows = scoring_rows(conn, address)
            scored = score_address(conn, community, address, rows, settings, timings)
            body = fresh_score_object(address, scored.result, scored.error)
            outcome = EmbedOutcome(200, "", "200 OK", scored.error, scored.lifo_attempts)
            return outcome, (listed, body)

        outcome, (listed, score) = db.run_transaction(work, commit=not dry_run)
        body = stamps_with_score_body(fetch_visible_stamps(listed), score)
        return EmbedOutcome(200, body, "200 OK", outcome.score_error, outcome.lifo_attempts)
    except Exception as exc:
        return error_outcome(exc)


def _community_id(scorer_id: str | None) -> int | None:
    """The id the community lookup uses; non-integer text fails as Django's integer field does."""
    if scorer_id is None:
        return None
    try:
        int(scorer_id)
    except ValueError:
        raise EmbedError(400, f"Field 'id' expected a number but got {scorer_id!r}.") from None
    return as_community_id(scorer_id)
