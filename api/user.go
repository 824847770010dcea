package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/mail"
	"github.com/lokiz/lokiz/storage"
)

// userResponse is the caller's own account (register, login, /auth/me,
// /users/me): the only shape with email and credits. profile_image and
// like_count are aliases the frontend's types use (CONTRACT.md §5).
type userResponse struct {
	ID       uuid.UUID `json:"id"`
	Username string    `json:"username"`
	Email    string    `json:"email"`
	// EmailVerified tells whether the address was proven by a verification
	// link; Language is the language of the user's mail (en or ko).
	EmailVerified         bool       `json:"email_verified"`
	Language              string     `json:"language"`
	DisplayName           *string    `json:"display_name"`
	Bio                   *string    `json:"bio"`
	ProfileImageURL       *string    `json:"profile_image_url"`
	ProfileImage          *string    `json:"profile_image"`
	Credits               int32      `json:"credits"`
	Role                  string     `json:"role"`
	SubscriptionTier      string     `json:"subscription_tier"`
	SubscriptionExpiresAt *time.Time `json:"subscription_expires_at"`
	// ShowAds and Limits are the perks of the tier in force now (free
	// once a paid tier has expired).
	ShowAds        bool               `json:"show_ads"`
	Limits         planLimitsResponse `json:"limits"`
	FollowerCount  int64              `json:"follower_count"`
	FollowingCount int64              `json:"following_count"`
	VideoCount     int64              `json:"video_count"`
	TotalLikes     int64              `json:"total_likes"`
	LikeCount      int64              `json:"like_count"`
	CreatedAt      time.Time          `json:"created_at"`
	UpdatedAt      time.Time          `json:"updated_at"`
}

// profileResponse is anyone's public profile (GET /users/{id}).
type profileResponse struct {
	ID              uuid.UUID `json:"id"`
	Username        string    `json:"username"`
	DisplayName     *string   `json:"display_name"`
	Bio             *string   `json:"bio"`
	ProfileImageURL *string   `json:"profile_image_url"`
	ProfileImage    *string   `json:"profile_image"`
	FollowerCount   int64     `json:"follower_count"`
	FollowingCount  int64     `json:"following_count"`
	VideoCount      int64     `json:"video_count"`
	TotalLikes      int64     `json:"total_likes"`
	LikeCount       int64     `json:"like_count"`
	IsFollowing     bool      `json:"is_following"`
	IsMe            bool      `json:"is_me"`
	CreatedAt       time.Time `json:"created_at"`
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// loadMe adds the profile counts to the caller's own row.
func (s *Server) loadMe(ctx context.Context, u db.User) (userResponse, error) {
	counts, err := s.store.UserProfileCounts(ctx, db.UserProfileCountsParams{UserID: u.ID, ViewerID: &u.ID})
	if err != nil {
		return userResponse{}, err
	}
	img := s.mediaURL(ctx, u.ProfileImageKey)
	plan := lokiz.TierPlan(lokiz.ActiveTier(u.SubscriptionTier, u.SubscriptionExpiresAt, time.Now()))
	return userResponse{
		ShowAds:               plan.ShowAds,
		Limits:                s.planLimits(plan.ID),
		ID:                    u.ID,
		Username:              u.Username,
		Email:                 u.Email,
		EmailVerified:         u.EmailVerifiedAt != nil,
		Language:              u.Language,
		DisplayName:           u.DisplayName,
		Bio:                   u.Bio,
		ProfileImageURL:       img,
		ProfileImage:          img,
		Credits:               u.Credits,
		Role:                  u.Role,
		SubscriptionTier:      u.SubscriptionTier,
		SubscriptionExpiresAt: utc(u.SubscriptionExpiresAt),
		FollowerCount:         counts.FollowerCount,
		FollowingCount:        counts.FollowingCount,
		VideoCount:            counts.VideoCount,
		TotalLikes:            counts.TotalLikes,
		LikeCount:             counts.TotalLikes,
		CreatedAt:             u.CreatedAt.UTC(),
		UpdatedAt:             u.UpdatedAt.UTC(),
	}, nil
}

func (s *Server) getMe(c *gin.Context) {
	ctx := c.Request.Context()
	u, err := s.store.UserByID(ctx, mustUser(c).ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	me, err := s.loadMe(ctx, u)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, me)
}

// updateProfileRequest: an absent field is unchanged, null clears it (B-42).
// Username and email are not editable here.
type updateProfileRequest struct {
	DisplayName     Optional[string] `json:"display_name" text:"name"`
	Bio             Optional[string] `json:"bio" text:"multiline"`
	ProfileImageURL Optional[string] `json:"profile_image_url"`
	// ProfileImage is the frontend's name for profile_image_url.
	ProfileImage Optional[string] `json:"profile_image"`
	// Language is the language of the user's mail (en or ko).
	Language Optional[string] `json:"language"`
}

func (r *updateProfileRequest) validate() []lokiz.FieldError {
	var errs []lokiz.FieldError
	if !r.ProfileImageURL.Set && r.ProfileImage.Set {
		r.ProfileImageURL = r.ProfileImage
	}
	if v := r.DisplayName.Ptr(); v != nil {
		if msg := lokiz.ValidateDisplayName(*v); msg != "" {
			errs = append(errs, fieldErr(msg, "body", "display_name"))
		}
	}
	if r.Language.Set {
		if v := r.Language.Ptr(); v == nil || (*v != mail.LangEnglish && *v != mail.LangKorean) {
			errs = append(errs, fieldErr("must be en or ko", "body", "language"))
		}
	}
	if v := r.Bio.Ptr(); v != nil {
		if msg := lokiz.ValidateBio(*v); msg != "" {
			errs = append(errs, fieldErr(msg, "body", "bio"))
		}
	}
	if v := r.ProfileImageURL.Ptr(); v != nil && *v == "" {
		r.ProfileImageURL.Null = true // "" clears, like null
	}
	return errs
}

var errNotOurImage = lokiz.ValidationError(fieldErr("must be an image you uploaded through POST /v1/images/upload-url", "body", "profile_image_url"))

// profileImageKey resolves what the client sent as its picture (the file key
// or a URL we issued) to the key of an image the caller uploaded.
func (s *Server) profileImageKey(ctx context.Context, userID uuid.UUID, ref string) (string, error) {
	key := storage.ImageKeyFrom(ref)
	if key == "" {
		return "", errNotOurImage
	}
	img, err := s.store.ImageGetByKey(ctx, key)
	if db.IsNotFound(err) || (err == nil && img.UserID != userID) {
		return "", errNotOurImage
	} else if err != nil {
		return "", err
	}
	if err := s.studio.CheckImage(ctx, img, "profile_image_url"); err != nil {
		return "", err
	}
	return key, nil
}

func (s *Server) updateMe(c *gin.Context) {
	ctx := c.Request.Context()
	var req updateProfileRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	me := mustUser(c)
	var imageKey *string
	if ref := req.ProfileImageURL.Ptr(); ref != nil {
		key, err := s.profileImageKey(ctx, me.ID, *ref)
		if err != nil {
			s.writeError(c, err)
			return
		}
		imageKey = &key
	}
	if lang := req.Language.Ptr(); lang != nil {
		if err := s.store.UserSetLanguage(ctx, db.UserSetLanguageParams{ID: me.ID, Language: *lang}); err != nil {
			s.writeError(c, err)
			return
		}
	}
	u, err := s.store.UserUpdateProfile(ctx, db.UserUpdateProfileParams{
		ID:              me.ID,
		SetDisplayName:  req.DisplayName.Set,
		DisplayName:     req.DisplayName.Ptr(),
		SetBio:          req.Bio.Set,
		Bio:             req.Bio.Ptr(),
		SetProfileImage: req.ProfileImageURL.Set,
		ProfileImageKey: imageKey,
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	resp, err := s.loadMe(ctx, u)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, resp)
}

var errUserNotFound = lokiz.Errorf(lokiz.ENOTFOUND, "User not found")

// visibleUser loads a user the viewer may see: banned users and users on
// either side of a block with the viewer are not found (CONTRACT.md §2).
func (s *Server) visibleUser(ctx context.Context, id uuid.UUID, viewer *uuid.UUID) (db.User, error) {
	u, err := s.store.UserGetByID(ctx, id)
	if db.IsNotFound(err) || (err == nil && !u.IsActive) {
		return db.User{}, errUserNotFound
	} else if err != nil {
		return db.User{}, err
	}
	if viewer != nil && *viewer != id {
		blocked, err := s.store.UserBlockedEitherWay(ctx, db.UserBlockedEitherWayParams{A: *viewer, B: id})
		if err != nil {
			return db.User{}, err
		}
		if blocked {
			return db.User{}, errUserNotFound
		}
	}
	return u, nil
}

// getUser is anyone's profile. Banned users and users on either side of a
// block with the caller are not found (CONTRACT.md §2).
func (s *Server) getUser(c *gin.Context) {
	ctx := c.Request.Context()
	id, err := pathUUID(c, "user_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	viewer := optionalUserID(c)
	u, err := s.visibleUser(ctx, id, viewer)
	if err != nil {
		s.writeError(c, err)
		return
	}
	counts, err := s.store.UserProfileCounts(ctx, db.UserProfileCountsParams{UserID: id, ViewerID: viewer})
	if err != nil {
		s.writeError(c, err)
		return
	}
	img := s.mediaURL(ctx, u.ProfileImageKey)
	c.JSON(http.StatusOK, profileResponse{
		ID:              u.ID,
		Username:        u.Username,
		DisplayName:     u.DisplayName,
		Bio:             u.Bio,
		ProfileImageURL: img,
		ProfileImage:    img,
		FollowerCount:   counts.FollowerCount,
		FollowingCount:  counts.FollowingCount,
		VideoCount:      counts.VideoCount,
		TotalLikes:      counts.TotalLikes,
		LikeCount:       counts.TotalLikes,
		IsFollowing:     counts.IsFollowing,
		IsMe:            viewer != nil && *viewer == id,
		CreatedAt:       u.CreatedAt.UTC(),
	})
}

// maxBatch is the most ids a batch route takes.
const maxBatch = 100

type batchUsersRequest struct {
	UserIDs []string `json:"user_ids"`
	ids     []uuid.UUID
}

func (r *batchUsersRequest) validate() []lokiz.FieldError {
	ids, errs := parseIDBatch(r.UserIDs, "user_ids", maxBatch)
	r.ids = ids
	return errs
}

type batchUserEntry struct {
	ID              uuid.UUID `json:"id"`
	Username        string    `json:"username"`
	DisplayName     *string   `json:"display_name"`
	ProfileImageURL *string   `json:"profile_image_url"`
	ProfileImage    *string   `json:"profile_image"`
	Bio             *string   `json:"bio"`
	FollowerCount   int64     `json:"follower_count"`
	FollowingCount  int64     `json:"following_count"`
	VideoCount      int64     `json:"video_count"`
	IsFollowing     bool      `json:"is_following"`
	IsVerified      bool      `json:"is_verified"`
}

type batchUsersResponse struct {
	Users map[string]batchUserEntry `json:"users"`
}

// batchUsers answers facts about up to 100 users in one query, keyed by
// canonical id; unknown, banned and blocked ids are omitted.
func (s *Server) batchUsers(c *gin.Context) {
	ctx := c.Request.Context()
	var req batchUsersRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	out := batchUsersResponse{Users: map[string]batchUserEntry{}}
	if len(req.ids) > 0 {
		rows, err := s.store.UserBatchInfo(ctx, db.UserBatchInfoParams{IDs: req.ids, ViewerID: optionalUserID(c)})
		if err != nil {
			s.writeError(c, err)
			return
		}
		for _, r := range rows {
			img := s.mediaURL(ctx, r.ProfileImageKey)
			out.Users[r.ID.String()] = batchUserEntry{
				ID: r.ID, Username: r.Username, DisplayName: r.DisplayName,
				ProfileImageURL: img, ProfileImage: img, Bio: r.Bio,
				FollowerCount: r.FollowerCount, FollowingCount: r.FollowingCount, VideoCount: r.VideoCount,
				IsFollowing: r.IsFollowing,
			}
		}
	}
	c.JSON(http.StatusOK, out)
}

type userStatsResponse struct {
	TotalVideos           int64 `json:"total_videos"`
	TotalViews            int64 `json:"total_views"`
	TotalLikes            int64 `json:"total_likes"`
	TotalComments         int64 `json:"total_comments"`
	TotalFollowers        int64 `json:"total_followers"`
	TotalFollowing        int64 `json:"total_following"`
	TotalGlitchesCreated  int64 `json:"total_glitches_created"`
	TotalGlitchesReceived int64 `json:"total_glitches_received"`
	CreditsUsed           int64 `json:"credits_used"`
	CreditsRemaining      int64 `json:"credits_remaining"`
	// PendingViews are views counted but not yet flushed; TotalViews
	// includes them.
	PendingViews int64  `json:"pending_views"`
	From         string `json:"from"`
	To           string `json:"to"`
	// The by-day series of GET /v1/videos/{id}/stats, summed over the
	// caller's videos (not deleted), and their flushed views by source.
	dailySeries
	TrafficSources trafficSources `json:"traffic_sources"`
}

// getMyStats is the caller's totals (missing-API analysis §9.1) and the
// by-day series of their videos. Views include those not yet flushed (one
// Redis call over the caller's videos); credits used are spends net of
// refunds.
func (s *Server) getMyStats(c *gin.Context) {
	ctx := c.Request.Context()
	me := mustUser(c).ID
	st, err := s.store.UserStats(ctx, me)
	if err != nil {
		s.writeError(c, err)
		return
	}
	ids, err := s.store.UserVideoIDs(ctx, me)
	if err != nil {
		s.writeError(c, err)
		return
	}
	var pending int64
	for _, n := range s.pendingViews(ctx, ids) {
		pending += n
	}
	series, first, last, err := s.series(ctx, ids)
	if err != nil {
		s.writeError(c, err)
		return
	}
	tot, err := s.store.StatsViewTotals(ctx, ids)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, userStatsResponse{
		PendingViews: pending, From: first.Format(time.DateOnly), To: last.Format(time.DateOnly),
		dailySeries: series,
		TrafficSources: trafficSources{Feed: tot.Feed, Search: tot.Search, Profile: tot.Profile,
			Share: tot.Share, External: tot.External, Other: tot.Other},
		TotalVideos: st.TotalVideos, TotalViews: st.TotalViews + pending, TotalLikes: st.TotalLikes, TotalComments: st.TotalComments,
		TotalFollowers: st.TotalFollowers, TotalFollowing: st.TotalFollowing,
		TotalGlitchesCreated: st.TotalGlitchesCreated, TotalGlitchesReceived: st.TotalGlitchesReceived,
		CreditsUsed: st.CreditsSpent - st.CreditsRefunded, CreditsRemaining: st.CreditsRemaining,
	})
}
