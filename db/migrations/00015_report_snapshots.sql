-- A report of a comment survives the comment (issue 11). Deleting a comment
-- (its author, the video's owner, the video or the account going away)
-- used to delete every report of it through ON DELETE CASCADE, so an
-- author could erase the evidence by deleting what was reported. Now a
-- comment report keeps a snapshot of the reported text and its author,
-- written when the report is filed, and the link to the comment becomes
-- NULL when the comment is deleted.

-- +goose Up
ALTER TABLE reports
    ADD COLUMN reported_comment_content   text CHECK (char_length(reported_comment_content) <= 1000),
    ADD COLUMN reported_comment_author_id uuid REFERENCES users (id) ON DELETE SET NULL;

UPDATE reports r
SET reported_comment_content = c.content, reported_comment_author_id = c.user_id
FROM comments c
WHERE c.id = r.reported_comment_id;

ALTER TABLE reports
    DROP CONSTRAINT reports_reported_comment_id_fkey,
    ADD CONSTRAINT reports_reported_comment_id_fkey
        FOREIGN KEY (reported_comment_id) REFERENCES comments (id) ON DELETE SET NULL,
    -- One target: a user, a video or a comment, the comment standing for
    -- itself by its snapshot once it is gone; every comment report has one.
    DROP CONSTRAINT reports_one_target,
    ADD CONSTRAINT reports_one_target
        CHECK (num_nonnulls(reported_user_id, reported_video_id, reported_comment_content) = 1),
    ADD CONSTRAINT reports_comment_snapshot
        CHECK (reported_comment_id IS NULL OR reported_comment_content IS NOT NULL);

-- +goose Down
-- Reports of comments that no longer exist cannot be kept under the old
-- constraints.
DELETE FROM reports WHERE reported_comment_content IS NOT NULL AND reported_comment_id IS NULL;
ALTER TABLE reports
    DROP CONSTRAINT reports_comment_snapshot,
    DROP CONSTRAINT reports_one_target,
    ADD CONSTRAINT reports_one_target
        CHECK (num_nonnulls(reported_user_id, reported_video_id, reported_comment_id) = 1),
    DROP CONSTRAINT reports_reported_comment_id_fkey,
    ADD CONSTRAINT reports_reported_comment_id_fkey
        FOREIGN KEY (reported_comment_id) REFERENCES comments (id) ON DELETE CASCADE,
    DROP COLUMN reported_comment_author_id,
    DROP COLUMN reported_comment_content;
