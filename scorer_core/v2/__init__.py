"""The v2 score route, ``GET /v2/stamps/{scorer_id}/score/{address}``: request rules, analytics, the use case."""
