-- name: NotificationsSinceSeq :many
-- The WebSocket catch-up (issue 14): the user's notifications whose seq is
-- above @since, in seq order, hidden like the list (visible: a group whose
-- actors are all on the other side of a block with the user, or a single
-- notification whose actor is). seq is not a commit order: the caller
-- deduplicates by id and seq against the live events it buffered.
SELECT * FROM notification_views n
 WHERE n.user_id = @user_id AND n.seq > @since::bigint
   AND n.visible
 ORDER BY n.seq
 LIMIT @lim;

-- name: NotificationSeqOfUser :one
-- The current seq of one of the user's notifications (a catch-up that
-- names the last notification it saw); someone else's is not found.
SELECT seq FROM notifications WHERE id = @id AND user_id = @user_id;

-- name: SessionsLive :many
-- Of @ids, the sessions that are still live (not revoked, user active):
-- the realtime hub's periodic re-check of the sockets it holds, in one
-- round trip for many sessions.
SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id
 WHERE s.id = ANY(@ids::uuid[]) AND s.revoked_at IS NULL AND u.is_active;
