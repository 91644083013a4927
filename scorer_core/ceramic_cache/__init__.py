"""The ceramic cache: the stamps the Passport app and the embed service store per address, and the use cases of
the ``/ceramic-cache/`` routes. Pure rules live in ``rows``; the SQL is in ``scorer_core.db.ceramic_cache``."""
