"""Data access, the only code that talks to PostgreSQL: the pool (``pool``) and one module per group of tables.

The package re-exports the pool's unit-of-work API, so callers write ``db.run_transaction(...)``.
"""

from scorer_core.db.pool import (
    APPLICATION_NAME,
    close_pool,
    pool_created,
    recover,
    run_autocommit,
    run_transaction,
    secret_conninfo,
    statement_count,
    total_statement_count,
)

__all__ = [
    "APPLICATION_NAME",
    "close_pool",
    "pool_created",
    "recover",
    "run_autocommit",
    "run_transaction",
    "secret_conninfo",
    "statement_count",
    "total_statement_count",
]
