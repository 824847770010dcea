package db

import (
	"context"

	"github.com/google/uuid"
)

// BlockUser records that blocker blocks blocked and ends the follows between
// them in both directions, in one transaction (CONTRACT.md §2). Blocking
// twice changes nothing; created says whether this call made the block.
func (s *Store) BlockUser(ctx context.Context, blocker, blocked uuid.UUID) (b Block, created bool, err error) {
	err = s.InTx(ctx, func(q *Queries) error {
		if created, err = q.BlockAdd(ctx, BlockAddParams{ID: NewID(), BlockerID: blocker, BlockedID: blocked}); err != nil {
			return err
		}
		if _, err = q.FollowsRemoveBetween(ctx, FollowsRemoveBetweenParams{A: blocker, B: blocked}); err != nil {
			return err
		}
		b, err = q.BlockGet(ctx, BlockGetParams{BlockerID: blocker, BlockedID: blocked})
		return err
	})
	return b, created, translate(err, "block")
}
