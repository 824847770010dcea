package notification_test

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/notification"
)

func TestGroupMessage(t *testing.T) {
	t.Parallel()
	stored := "Your music is ready"
	for _, tc := range []struct {
		typ    string
		count  int64
		stored *string
		want   string
	}{
		{db.NotificationLike, 1, nil, "mina liked your video"},
		{db.NotificationLike, 2, nil, "mina and 1 other liked your video"},
		{db.NotificationLike, 13, nil, "mina and 12 others liked your video"},
		{db.NotificationFollow, 3, nil, "mina and 2 others started following you"},
		{db.NotificationGlitch, 5, nil, "mina and 4 others glitched your video"},
		{db.NotificationComment, 1, nil, "mina commented on your video"},
		{db.NotificationAIJob, 1, &stored, "Your music is ready"},
		{db.NotificationSystem, 1, nil, "You have a new notification"},
	} {
		require.Equal(t, tc.want, notification.GroupMessage(tc.typ, "mina", tc.count, tc.stored), "%s %d", tc.typ, tc.count)
	}
	require.Equal(t, "mina liked your video", notification.Message(db.NotificationLike, "mina", nil))
}

func TestRenderGroup(t *testing.T) {
	t.Parallel()
	none := func(*string) *string { return nil }
	latest, prev := uuid.New(), uuid.New()
	name := "Mina"
	actors, err := json.Marshal([]map[string]any{
		{"id": latest, "username": "mina", "display_name": name, "profile_image_key": nil},
		{"id": prev, "username": "jun", "display_name": nil, "profile_image_key": nil},
	})
	require.NoError(t, err)
	n := notification.Render(db.NotificationView{
		ID: uuid.New(), Type: db.NotificationLike, ActorID: &latest, ActorUsername: new("mina"), ActorDisplayName: &name,
		GroupCount: 2, GroupActors: actors, Seq: 7,
	}, none)
	require.Equal(t, int64(2), n.Count)
	require.Equal(t, "Mina and 1 other liked your video", n.Message)
	require.Equal(t, latest, n.Actor.ID)
	require.Len(t, n.Actors, 2)
	require.Equal(t, []uuid.UUID{latest, prev}, []uuid.UUID{n.Actors[0].ID, n.Actors[1].ID})
	require.Nil(t, n.Actors[1].DisplayName)

	// A single notification: its actor is its only one; none without an actor.
	single := notification.Render(db.NotificationView{ID: uuid.New(), Type: db.NotificationComment,
		ActorID: &prev, ActorUsername: new("jun"), GroupCount: 1}, none)
	require.Len(t, single.Actors, 1)
	require.Equal(t, prev, single.Actors[0].ID)
	require.Equal(t, "jun commented on your video", single.Message)
	job := notification.Render(db.NotificationView{ID: uuid.New(), Type: db.NotificationAIJob, GroupCount: 1}, none)
	require.NotNil(t, job.Actors)
	require.Empty(t, job.Actors)
	require.Equal(t, int64(1), job.Count)
}
