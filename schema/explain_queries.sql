-- Loads realistic row counts into a scratch database holding schema/django_tables.sql, then EXPLAINs the
-- queries of the score request. The comments of schema/extra_indexes.sql quote its output.
--
--   createdb scratch && psql -d scratch -f schema/django_tables.sql && psql -d scratch -f schema/explain_queries.sql
--
-- Never run it against a real database: it inserts synthetic rows.
\set ON_ERROR_STOP on
\pset pager off
SET client_min_messages = warning;

-- Accounts, scorers, communities, API keys --------------------------------------------------------------
INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
                       date_joined)
SELECT i, '', false, 'user' || i, '', '', '', false, true, now() FROM generate_series(1, 2000) i;
INSERT INTO account_account (id, address, user_id)
SELECT i, '0x' || lpad(to_hex(i), 40, 'a'), i FROM generate_series(1, 2000) i;
INSERT INTO scorer_weighted_scorer (id, type, exclude_from_weight_updates)
SELECT i, 'WEIGHTED', false FROM generate_series(1, 5000) i;
INSERT INTO scorer_weighted_weightedscorer (scorer_ptr_id, weights, threshold)
SELECT i, '{"Google": "1.0", "Ens": "2.0"}', 20 FROM generate_series(1, 5000) i;
INSERT INTO account_community (id, name, description, account_id, scorer_id, created_at, rule, deleted_at,
                               external_scorer_id, human_points_program)
SELECT i, 'community ' || i, '', CASE WHEN i <= 2000 THEN 1 ELSE 1 + i % 2000 END, i, now(), 'LIFO', NULL,
       CASE WHEN i % 10 = 0 THEN 'ext-' || i END, i % 50 = 0
FROM generate_series(1, 5000) i;
INSERT INTO account_accountapikey (id, prefix, hashed_key, created, name, revoked, account_id, create_scorers,
                                   read_scores, submit_passports, historical_endpoint, hashed_key_sha256)
SELECT lpad(to_hex(i), 8, '0') || '.pbkdf2', lpad(to_hex(i), 8, '0'), 'pbkdf2_sha256$...', now(), 'key ' || i, false,
       1 + i % 2000, false, true, true, false, 'sha256$' || md5(i::text) || md5(i::text)
FROM generate_series(1, 10000) i;

-- Stamps held: 200k ceramic-cache rows, 25k addresses x 8 providers; provider 7 soft-deleted -------------
INSERT INTO ceramic_cache_ceramiccache (address, provider, stamp, created_at, updated_at, type, deleted_at,
                                        compose_db_save_status, compose_db_stream_id, expiration_date,
                                        issuance_date, proof_value, source_app)
SELECT '0x' || lpad(to_hex(i % 25000), 40, '0'), 'Provider' || (i / 25000),
       jsonb_build_object('type', jsonb_build_array('VerifiableCredential'),
                          'credentialSubject', jsonb_build_object('hash', 'v0.0.0:' || md5(i::text),
                                                                  'provider', 'Provider' || (i / 25000)),
                          'proof', jsonb_build_object('proofValue', repeat('p', 600))),
       now(), now(), 1, CASE WHEN i / 25000 = 7 THEN now() - interval '1 day' END,
       'pending', '', now() + interval '90 days', now(), md5(i::text), 1
FROM generate_series(0, 199999) i;
INSERT INTO ceramic_cache_revocationlist (id, name, csv_file) VALUES (1, 'list', 'x.csv');
INSERT INTO ceramic_cache_revocation (proof_value, ceramic_cache_id, revocation_list_id)
SELECT md5(id::text), id, 1 FROM ceramic_cache_ceramiccache WHERE id % 100 = 0;

-- Scoring state: 50k passports and scores, 100k stamps, 100k hash links, 100k events ----------------------
INSERT INTO registry_passport (id, community_id, address, requires_calculation)
SELECT i + 1, 1 + i / 25000, '0x' || lpad(to_hex(i % 25000), 40, '0'), NULL FROM generate_series(0, 49999) i;
INSERT INTO registry_score (passport_id, score, last_score_timestamp, status, evidence, stamp_scores,
                            expiration_date, stamps)
SELECT i, 21.5, now(), 'DONE', '{}', '{}', now() + interval '90 days', '{}' FROM generate_series(1, 50000) i;
INSERT INTO registry_stamp (provider, credential, passport_id)
SELECT 'Provider' || (i % 8), jsonb_build_object('proof', repeat('p', 600)), 1 + i % 50000
FROM generate_series(1, 100000) i;
INSERT INTO registry_hashscorerlink (hash, address, expires_at, community_id)
SELECT 'v0.0.0:' || md5(i::text), '0x' || lpad(to_hex(i % 25000), 40, '0'), now() + interval '90 days',
       1 + i % 3
FROM generate_series(1, 100000) i;
INSERT INTO registry_event (action, address, created_at, data, community_id)
SELECT 'SCU', '0x' || lpad(to_hex(i % 25000), 40, '0'), now(), '{"model": "registry.score"}', 1 + i % 3
FROM generate_series(1, 100000) i;

-- Human Points and address lists --------------------------------------------------------------------------
INSERT INTO registry_humanpoints (address, action, "timestamp", tx_hash, chain_id, provider)
SELECT '0x' || lpad(to_hex(i % 50000), 40, '0'), (ARRAY['SCB', 'HKY', 'PMT', 'MTA', 'HIM'])[1 + (i + i / 50000) % 5],
       now(),
       CASE WHEN i % 5 = 2 THEN md5(i::text) ELSE '' END, 0, CASE WHEN i % 5 = 1 THEN 'P' || i ELSE '' END
FROM generate_series(1, 100000) i;
INSERT INTO registry_humanpointscommunityqualifiedusers (address, community_id)
SELECT '0x' || lpad(to_hex(i % 25000), 40, '0'), 1 + i / 25000 FROM generate_series(0, 49999) i;
INSERT INTO account_addresslist (id, name) VALUES (1, 'MetaMaskOG2'), (2, 'Other');
INSERT INTO account_addresslistmember (address, list_id)
SELECT '0x' || lpad(to_hex(i), 40, '0'), 1 + i % 2 FROM generate_series(1, 50000) i;

-- 100k analytics rows -------------------------------------------------------------------------------------
INSERT INTO account_accountapikeyanalytics (created_at, path, api_key_id, base_path, error, headers, path_segments,
                                            payload, query_params, response, response_skipped, status_code)
SELECT now(), '/v2/stamps/' || (1 + i % 5000) || '/score/0x' || lpad(to_hex(i % 25000), 40, '0'),
       lpad(to_hex(1 + i % 10000), 8, '0') || '.pbkdf2', '/v2/stamps', NULL,
       '{"x-api-key": "***", "user-agent": "curl/8"}',
       jsonb_build_array('v2', 'stamps', (1 + i % 5000)::text, 'score'), NULL, '{}',
       to_jsonb('{"address":"0x...","score":"24.52900","passing_score":true}'::text), false, 200
FROM generate_series(1, 100000) i;

VACUUM ANALYZE;

SELECT relname AS "table", n_live_tup AS "rows" FROM pg_stat_user_tables WHERE n_live_tup > 0 ORDER BY relname;

-- The queries of one score request, with values that exist ------------------------------------------------
\set address '''0x0000000000000000000000000000000000003039'''
\set explain 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)'

\echo 'API key by prefix'
:explain SELECT * FROM account_accountapikey WHERE prefix = '00000539';

\echo 'Community by external or numeric id, within the key''s account'
:explain SELECT * FROM account_community WHERE (external_scorer_id = '1330' OR id = 1330) AND account_id = 1;

\echo 'Ceramic-cache stamps of an address, without soft-deleted and revoked rows'
:explain SELECT c.* FROM ceramic_cache_ceramiccache c
 WHERE c.address = :address AND c.deleted_at IS NULL
   AND NOT EXISTS (SELECT 1 FROM ceramic_cache_revocation r WHERE r.ceramic_cache_id = c.id)
 ORDER BY c.id;

\echo 'Passport of (address, community), and its score'
:explain SELECT * FROM registry_passport WHERE address = :address AND community_id = 1 FOR UPDATE;
:explain SELECT * FROM registry_score WHERE passport_id = 12345;

\echo 'Hash links of a community among the nullifiers of the stamps'
:explain SELECT * FROM registry_hashscorerlink
 WHERE community_id = 2 AND hash = ANY(ARRAY['v0.0.0:' || md5('1234'), 'v0.0.0:' || md5('2'), 'v0.0.0:x']);

\echo 'Stamps of a passport (deleted and rewritten on every score)'
BEGIN;
:explain DELETE FROM registry_stamp WHERE passport_id = 12345;
ROLLBACK;

\echo 'Human Points of an address for an action; qualified communities of an address; MetaMaskOG2 membership'
:explain SELECT * FROM registry_humanpoints WHERE address = :address AND action = 'SCB';
:explain SELECT count(*) FROM registry_humanpoints WHERE action = 'MTA';
:explain SELECT * FROM registry_humanpointscommunityqualifiedusers WHERE address = :address;
:explain SELECT 1 FROM account_addresslistmember m JOIN account_addresslist l ON l.id = m.list_id
 WHERE l.name = 'MetaMaskOG2' AND m.address = :address;

\echo 'Analytics insert: every index below is maintained by each INSERT'
SELECT indexrelid::regclass AS "index", pg_size_pretty(pg_relation_size(indexrelid)) AS size
FROM pg_index WHERE indrelid = 'account_accountapikeyanalytics'::regclass ORDER BY 1;
\set analytics_insert 'INSERT INTO account_accountapikeyanalytics (created_at, path, api_key_id, base_path, headers, path_segments, query_params, response, response_skipped, status_code) SELECT now(), ''/v2/stamps/1/score/0x'' || i, ''00000001.pbkdf2'', ''/v2/stamps'', ''{"x-api-key": "***"}'', jsonb_build_array(''v2'', ''stamps'', ''1'', ''score''), ''{}'', to_jsonb(''{"score":"1.00000"}''::text), false, 200 FROM generate_series(1, 20000) i'
\echo '20k analytics inserts with all 13 indexes, then with only the primary key, api_key_id and created_at'
\timing on
BEGIN;
:analytics_insert;
ROLLBACK;
BEGIN;
DROP INDEX account_accountapikeyanalytics_api_key_id_f30ca19e_like, account_accountapikeyanalytics_base_path_c10e92ca,
           account_accountapikeyanalytics_base_path_c10e92ca_like, account_accountapikeyanalytics_error_0791c82e,
           account_accountapikeyanalytics_error_0791c82e_like, account_accountapikeyanalytics_path_segments_83f45e13,
           account_accountapikeyanalytics_payload_93057d53, account_accountapikeyanalytics_query_params_3fb7d0fb,
           account_accountapikeyanalytics_response_skipped_6bd76337, account_accountapikeyanalytics_status_code_4c74877c;
:analytics_insert;
ROLLBACK;
\timing off

\echo 'A long, incompressible error text: the btree indexes on error reject the whole analytics row'
\set ON_ERROR_STOP off
INSERT INTO account_accountapikeyanalytics (created_at, path, api_key_id, error, status_code)
SELECT now(), '/v2/stamps/1/score/0x1', '00000001.pbkdf2', string_agg(md5(i::text), ''), 500
FROM generate_series(1, 120) i;
