package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

func (s *Server) basicUser(ctx context.Context, u db.User) lokiz.UserBasic {
	img := s.mediaURL(ctx, u.ProfileImageKey)
	return lokiz.UserBasic{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, ProfileImageURL: img, ProfileImage: img}
}

// targetUser resolves the path's user_id to someone the caller may see and
// act on; acting on yourself is refused with selfMsg.
func (s *Server) targetUser(c *gin.Context, selfMsg string) (db.User, error) {
	id, err := pathUUID(c, "user_id")
	if err != nil {
		return db.User{}, err
	}
	me := mustUser(c).ID
	if id == me {
		return db.User{}, lokiz.Errorf(lokiz.EINVALID, "%s", selfMsg)
	}
	return s.visibleUser(c.Request.Context(), id, &me)
}

type followResponse struct {
	ID          uuid.UUID       `json:"id"`
	Follower    lokiz.UserBasic `json:"follower"`
	Following   lokiz.UserBasic `json:"following"`
	CreatedAt   time.Time       `json:"created_at"`
	IsFollowing bool            `json:"is_following"`
}

// follow follows a user: 201 the first time, 200 when already following.
func (s *Server) follow(c *gin.Context) {
	ctx := c.Request.Context()
	target, err := s.targetUser(c, "Cannot follow yourself")
	if err != nil {
		s.writeError(c, err)
		return
	}
	me, err := s.store.UserByID(ctx, mustUser(c).ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	created, owed, err := s.store.Follow(ctx, me.ID, target.ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.notify(ctx, owed)
	f, err := s.store.FollowGet(ctx, db.FollowGetParams{FollowerID: me.ID, FollowingID: target.ID})
	if err != nil {
		s.writeError(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		s.signalsChanged(c, me.ID)
	}
	c.JSON(status, followResponse{ID: f.ID, Follower: s.basicUser(ctx, me), Following: s.basicUser(ctx, target),
		CreatedAt: f.CreatedAt.UTC(), IsFollowing: true})
}

// unfollow is idempotent: not following is already the wanted state.
func (s *Server) unfollow(c *gin.Context) {
	ctx := c.Request.Context()
	id, err := pathUUID(c, "user_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	me := mustUser(c).ID
	if _, err := s.store.Unfollow(ctx, me, id); err != nil {
		s.writeError(c, err)
		return
	}
	s.signalsChanged(c, me)
	c.JSON(http.StatusOK, gin.H{"user_id": id, "is_following": false, "following": false})
}

func (s *Server) checkFollow(c *gin.Context) {
	s.checkOne(c, "user_id", s.followedBy, "following", "is_following")
}

// checkFollows answers, in one query, which of up to 100 users the caller
// follows; every requested id has a key.
func (s *Server) checkFollows(c *gin.Context) {
	var req batchUsersRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	s.checkMany(c, req.ids, s.followedBy, "following_users")
}

type followEntry struct {
	followResponse
	User lokiz.UserBasic `json:"user"`
}

type followListResponse struct {
	Follows  []followEntry `json:"follows"`
	Page     int           `json:"page"`
	PageSize int           `json:"page_size"`
	HasMore  bool          `json:"has_more"`
}

func (s *Server) listFollowers(c *gin.Context)  { s.listFollows(c, true) }
func (s *Server) listFollowings(c *gin.Context) { s.listFollows(c, false) }

// listFollows lists a user's followers (or those they follow), newest
// first. Each entry names both sides, the other user as `user`, and
// is_following says whether the caller follows that user.
func (s *Server) listFollows(c *gin.Context, followers bool) {
	ctx := c.Request.Context()
	id, err := pathUUID(c, "user_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	page, size, err := offsetPage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	viewer := optionalUserID(c)
	subject, err := s.visibleUser(ctx, id, viewer)
	if err != nil {
		s.writeError(c, err)
		return
	}
	type row struct {
		user          db.User
		followID      uuid.UUID
		at            time.Time
		viewerFollows bool
	}
	var rows []row
	lim, off := int32(size+1), int32((page-1)*size)
	if followers {
		rs, err := s.store.FollowersOf(ctx, db.FollowersOfParams{UserID: id, ViewerID: viewer, Lim: lim, Off: off})
		if err != nil {
			s.writeError(c, err)
			return
		}
		for _, r := range rs {
			rows = append(rows, row{r.User, r.FollowID, r.FollowedAt, r.ViewerFollows})
		}
	} else {
		rs, err := s.store.FollowingOf(ctx, db.FollowingOfParams{UserID: id, ViewerID: viewer, Lim: lim, Off: off})
		if err != nil {
			s.writeError(c, err)
			return
		}
		for _, r := range rs {
			rows = append(rows, row{r.User, r.FollowID, r.FollowedAt, r.ViewerFollows})
		}
	}
	more := len(rows) > size
	if more {
		rows = rows[:size]
	}
	subj := s.basicUser(ctx, subject)
	out := followListResponse{Follows: []followEntry{}, Page: page, PageSize: size, HasMore: more}
	for _, r := range rows {
		other := s.basicUser(ctx, r.user)
		e := followEntry{followResponse: followResponse{ID: r.followID, CreatedAt: r.at.UTC(), IsFollowing: r.viewerFollows}, User: other}
		if followers {
			e.Follower, e.Following = other, subj
		} else {
			e.Follower, e.Following = subj, other
		}
		out.Follows = append(out.Follows, e)
	}
	c.JSON(http.StatusOK, out)
}
