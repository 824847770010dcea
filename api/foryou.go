package api

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/foryou"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/trending"
)

// The personalized ("for you") feed pages a ranking of the caller's own
// (package foryou), stored for an hour, like trending: a cursor holds its
// order and no video repeats. A first page is served from the caller's
// latest ranking; the worker computes the next one when the caller's
// signals changed or the ranking is old (foryou.FirstPage), not on every
// read. Only a caller with no recent ranking waits for one.

// signalsChanged tells the "for you" ranker that the caller's signals
// changed (a like, a follow, a block, a comment), so that their next first
// page asks for a new ranking. A failure only delays that: it is logged.
// The change is committed already, so a client that went away does not
// cancel the record.
func (s *Server) signalsChanged(c *gin.Context, user uuid.UUID) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 2*time.Second)
	defer cancel()
	if err := s.foryou.SignalsChanged(ctx, user); err != nil {
		s.log.WarnContext(ctx, "record for-you signal change", "error", err)
	}
}

// personalizedFeed serves the caller's "for you" ranking. ok is false when
// there is nothing to personalize (no candidates) or the cursor is not a
// personalized one: the caller falls back to trending.
func (s *Server) personalizedFeed(c *gin.Context, viewer uuid.UUID, size int) (loadedFeed, bool, error) {
	ctx := c.Request.Context()
	pageSize, cur, ok, err := parseSnapshotPage(c, size)
	if !ok || err != nil {
		return loadedFeed{}, false, err
	}
	mine := foryou.UserPrefix(viewer)
	if cur.Snapshot != "" {
		if !strings.HasPrefix(cur.Snapshot, foryou.SnapshotPrefix) {
			return loadedFeed{}, false, nil // a trending cursor from the fallback
		}
		if !strings.HasPrefix(cur.Snapshot, mine) {
			return loadedFeed{}, false, lokiz.ValidationError(fieldErr("belongs to another user's feed", "query", "cursor"))
		}
		f, err := s.snapshotPage(ctx, &viewer, "personalized", cur, pageSize)
		return f, err == nil, cursorExpired(err)
	}
	snap, refresh, err := s.foryou.FirstPage(ctx, viewer)
	if err != nil {
		return loadedFeed{}, false, err
	}
	if snap != "" {
		f, err := s.snapshotPage(ctx, &viewer, "personalized", trendCursor{Snapshot: snap}, pageSize)
		if err == nil {
			// The caller's signals changed since this ranking was started,
			// or it is getting old: a later first page gets a new one.
			if refresh {
				if err := s.tasks.Enqueue(ctx, tasks.NewForYouRefreshTask(viewer)); err != nil {
					s.log.WarnContext(ctx, "enqueue for-you refresh", "error", err)
				}
			}
			return f, true, nil
		} else if !errors.Is(err, trending.ErrSnapshotGone) {
			return loadedFeed{}, false, err
		}
	}
	if snap, err = s.foryou.Refresh(ctx, viewer); err != nil || snap == "" {
		return loadedFeed{}, false, err
	}
	f, err := s.snapshotPage(ctx, &viewer, "personalized", trendCursor{Snapshot: snap}, pageSize)
	return f, err == nil, err
}
