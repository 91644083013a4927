"""The scoring pipeline every route shares: credentials, LIFO deduplication, score arithmetic, Human Points,
and ``score_address``, which scores one address for one community inside the caller's transaction."""
