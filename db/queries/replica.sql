-- name: ReplicaLag :one
-- How far this server's replay is behind its primary, in seconds, as the
-- read router sees it (db/replica.go): 0 on a server that is not in
-- recovery (a primary, or a promoted replica) and on a standby that has
-- replayed all the WAL it received; otherwise the age of the last
-- transaction it replayed (the commit time set by the primary, so the two
-- clocks are assumed close).
SELECT COALESCE(CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
    ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
END, 0)::float8 AS lag_seconds;
