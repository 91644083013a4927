-- Extra indexes for the score request's queries: an operator script, run by hand against the production
-- database (psql -f schema/extra_indexes.sql) outside a transaction, since CREATE INDEX CONCURRENTLY cannot
-- run inside one. It is safe to run twice.
--
-- Result of the measurements below: the indexes Django already creates serve every query of the score
-- request, so this script creates none. Each query is listed with the plan that shows it.
--
-- Measured with schema/explain_queries.sql on PostgreSQL 15 (VACUUM ANALYZE after loading) with:
--   ceramic_cache_ceramiccache 200,000 (25,000 addresses x 8 providers, one provider soft-deleted),
--   ceramic_cache_revocation 2,000, registry_passport 50,000 and registry_score 50,000 (two communities of
--   25,000), registry_stamp 100,000, registry_hashscorerlink 100,000, registry_event 100,000,
--   registry_humanpoints 100,000, registry_humanpointscommunityqualifiedusers 50,000,
--   account_addresslistmember 50,000, account_accountapikeyanalytics 100,000, account_accountapikey 10,000,
--   account_community 5,000 (one account owns 2,000 of them).
-- Plans are EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) excerpts; "rows" are actual rows.

-- account_accountapikey WHERE prefix = $1
--   Served by the UNIQUE (prefix) constraint or its varchar_pattern_ops twin (equivalent for equality):
--     Index Scan using account_accountapikey_prefix_c5b7b286_like (actual rows=1)
--       Index Cond: ((prefix)::text = '00000539'::text)

-- account_community WHERE (external_scorer_id = $1 OR id = $2) AND account_id = $3
--   Served by the primary key and the UNIQUE (external_scorer_id) constraint, OR-ed, for an account that
--   owns 2,000 communities (for an account with a few, the planner takes account_id's index instead):
--     Bitmap Heap Scan on account_community (actual rows=1)
--       Filter: (account_id = 1)
--       ->  BitmapOr
--             ->  Bitmap Index Scan on account_community_external_scorer_id_548ec701_like (actual rows=0)
--             ->  Bitmap Index Scan on account_community_pkey (actual rows=1)

-- ceramic_cache_ceramiccache c WHERE c.address = $1 AND c.deleted_at IS NULL
--   AND NOT EXISTS (revocation r WHERE r.ceramic_cache_id = c.id) ORDER BY c.id
--   Served by (address, deleted_at, id DESC), both conditions in the index, and the anti-join by the
--   UNIQUE (ceramic_cache_id) of revocations. The ORDER BY costs an in-memory sort of one address's rows
--   (7 here, a few dozen at most): not worth a second index on the busiest table of the schema.
--     Sort (actual rows=7)  Sort Method: quicksort  Memory: 31kB
--       ->  Nested Loop Anti Join (actual rows=7)
--             ->  Index Scan using ceramic_cache_ceramiccache_address_deleted_at_id_desc (actual rows=7)
--                   Index Cond: ((address = '0x…3039') AND (deleted_at IS NULL))
--             ->  Index Only Scan using ceramic_cache_revocation_ceramic_cache_id_key (actual rows=0 loops=7)

-- registry_passport WHERE address = $1 AND community_id = $2 (FOR UPDATE)
--   Served by UNIQUE (address, community_id):
--     LockRows (actual rows=1)
--       ->  Index Scan using registry_passport_address_community_id_14f7b36b_uniq (actual rows=1)
--             Index Cond: ((address = '0x…3039') AND (community_id = 1))

-- registry_score WHERE passport_id = $1
--   Served by UNIQUE (passport_id):
--     Index Scan using registry_score_passport_id_640e4835_uniq (actual rows=1)

-- registry_hashscorerlink WHERE community_id = $1 AND hash = ANY($2)
--   Served by the existing UNIQUE (hash, community_id): both columns are index conditions, one descent per
--   nullifier. The LIFO verification count (address = $1 AND community_id = $2 AND hash = ANY($3)) takes the
--   same path with address as a filter.
--     Index Scan using registry_hashscorerlink_hash_community_id_ea7e08a6_uniq (actual rows=1)
--       Index Cond: ((hash = ANY ('{v0.0.0:81dc…,v0.0.0:c81e…,v0.0.0:x}')) AND (community_id = 2))

-- DELETE FROM registry_stamp WHERE passport_id = $1
--   Served by the foreign-key index:
--     Delete on registry_stamp
--       ->  Index Scan using registry_stamp_passport_id_a0a2c334 (actual rows=2)

-- registry_humanpoints WHERE address = $1 AND action = $2, and COUNT(*) WHERE action = 'MM2'
--   Served by (address, action) and by the action index (an index-only count; measured on an action with
--   20,000 rows, four times the MM2 cap of 5,000):
--     Index Scan using registry_hu_address_5fea1a_idx (actual rows=1)
--       Index Cond: ((address = '0x…3039') AND (action = 'SCB'))
--     Aggregate -> Index Only Scan using registry_humanpoints_action_2af7c950_like (actual rows=20000)
--       Index Cond: (action = 'MTA')

-- registry_humanpointscommunityqualifiedusers WHERE address = $1
--   Served by the address index:
--     Index Scan using registry_humanpointscommunityqualifiedusers_address_a7e51a30 (actual rows=2)

-- account_addresslistmember by (list, address)
--   Served by UNIQUE (address, list_id), index only:
--     Index Only Scan using account_addresslistmember_address_list_id_671a99b1_uniq (actual rows=1)

-- INSERT INTO account_accountapikeyanalytics
--   Each insert maintains 13 btree indexes: the primary key, api_key_id (+ _like), base_path (+ _like),
--   created_at, error (+ _like), path_segments, payload, query_params, response_skipped, status_code.
--   Only the primary key, api_key_id (the foreign key, and API-key usage reports) and created_at (reports by
--   period) look useful; nothing in the score request reads this table. Measured: 20,000 inserts take
--   469 ms with all 13 and 136 ms with those 3, i.e. about 17 µs saved per request: not worth a change for
--   latency alone. The real risk is size: a btree entry must fit in 2,704 bytes, so a long incompressible
--   `error` (or a huge query string in `query_params`) makes the INSERT fail:
--     ERROR:  index row size 3856 exceeds btree version 4 maximum 2704
--             for index "account_accountapikeyanalytics_error_0791c82e"
--   The analytics write is best-effort, so such a request only loses its analytics row. Dropping these
--   indexes belongs in a Django migration (db_index=False on the fields), or Django's migration state
--   drifts from the database; the statements it would run are, for reference:
--     DROP INDEX CONCURRENTLY IF EXISTS account_accountapikeyanalytics_error_0791c82e;
--     DROP INDEX CONCURRENTLY IF EXISTS account_accountapikeyanalytics_error_0791c82e_like;
--     DROP INDEX CONCURRENTLY IF EXISTS account_accountapikeyanalytics_query_params_3fb7d0fb;
--     DROP INDEX CONCURRENTLY IF EXISTS account_accountapikeyanalytics_payload_93057d53;
--     DROP INDEX CONCURRENTLY IF EXISTS account_accountapikeyanalytics_path_segments_83f45e13;

-- No CREATE INDEX CONCURRENTLY IF NOT EXISTS statement is needed today. Add one here, with its plan before
-- and after, when a query of the service changes shape.
