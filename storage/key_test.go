package storage_test

import (
	"regexp"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/storage"
)

func TestValidateKey(t *testing.T) {
	t.Parallel()

	for _, key := range []string{
		"a",
		"videos/0198c7a2-6a4e-7c3b-9f1e-2b3c4d5e6f70.mp4",
		"thumbnails/2026/08/x_y-z.jpg",
		"9/8/7",
	} {
		require.NoError(t, storage.ValidateKey(key), key)
	}
	for _, key := range invalidKeys {
		err := storage.ValidateKey(key)
		require.ErrorIs(t, err, storage.ErrInvalidKey, "%q", key)
		require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err))
	}
}

func TestNewKey(t *testing.T) {
	t.Parallel()

	uuidV7 := `[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`
	tests := []struct {
		contentType string
		ext         string
	}{
		{"video/mp4", "mp4"},
		{"video/quicktime", "mov"},
		{"video/webm", "webm"},
		{"image/jpeg", "jpg"},
		{"image/png", "png"},
		{"image/webp", "webp"},
		{"audio/mpeg", "mp3"},
		{"audio/wav", "wav"},
	}
	for _, tt := range tests {
		t.Run(tt.ext, func(t *testing.T) {
			t.Parallel()
			key, err := storage.NewKey("uploads/raw", tt.contentType)
			require.NoError(t, err)
			require.Regexp(t, regexp.MustCompile(`^uploads/raw/`+uuidV7+`\.`+tt.ext+`$`), key)
			require.NoError(t, storage.ValidateKey(key))
			require.Equal(t, tt.contentType, storage.ContentTypeFor(key))
			ext, ok := storage.ExtensionFor(tt.contentType)
			require.True(t, ok)
			require.Equal(t, tt.ext, ext)
		})
	}

	t.Run("Unique", func(t *testing.T) {
		t.Parallel()
		seen := map[string]bool{}
		for range 1000 {
			key, err := storage.NewKey("videos", "video/mp4")
			require.NoError(t, err)
			require.False(t, seen[key], key)
			seen[key] = true
		}
	})

	t.Run("RefusesOtherContentTypes", func(t *testing.T) {
		t.Parallel()
		for _, ct := range []string{"", "text/html", "image/svg+xml", "application/octet-stream", "VIDEO/MP4", "video/mp4; codecs=avc1", "image/jpg"} {
			_, err := storage.NewKey("videos", ct)
			require.ErrorIs(t, err, storage.ErrUnsupportedContentType, ct)
			_, ok := storage.ExtensionFor(ct)
			require.False(t, ok, ct)
		}
	})

	t.Run("RefusesBadPrefix", func(t *testing.T) {
		t.Parallel()
		for _, prefix := range []string{"", "/videos", "../videos", "Videos", "videos/"} {
			_, err := storage.NewKey(prefix, "video/mp4")
			require.ErrorIs(t, err, storage.ErrInvalidKey, prefix)
		}
	})

	t.Run("ContentTypeForUnknownExtension", func(t *testing.T) {
		t.Parallel()
		for _, key := range []string{"a.html", "a.svg", "a", "a.MP4", "mp4"} {
			require.Empty(t, storage.ContentTypeFor(key), key)
		}
	})
}

func TestKeyLayout(t *testing.T) {
	t.Parallel()

	id := uuid.MustParse("0198c7a2-6a4e-7c3b-9f1e-2b3c4d5e6f70")
	require.Equal(t, "thumbnails/"+id.String()+".jpg", storage.ThumbnailKey(id))
	require.Equal(t, "videos/"+id.String()+".mp4", storage.VideoKey(id, ".mp4"))
	require.Equal(t, "originals/"+id.String()+".mov", storage.OriginalKey(id, ".mov"))
	require.Equal(t, "ai/"+id.String()+"/segment.mp4", storage.AIFileKey(id, "segment.mp4"))
	frame := storage.FrameKey(id, 7)
	require.Equal(t, "frames/"+id.String()+"/07.jpg", frame)
	for _, k := range []string{storage.ThumbnailKey(id), storage.VideoKey(id, ".mp4"), storage.AIFileKey(id, "output.mp4"), frame} {
		require.NoError(t, storage.ValidateKey(k), k)
	}
	for _, ref := range []string{frame, "https://cdn.example/storage/" + frame + "?sig=x"} {
		key, capture, ok := storage.FrameKeyFrom(ref)
		require.True(t, ok, ref)
		require.Equal(t, frame, key)
		require.Equal(t, id, capture)
		require.True(t, storage.IsFrameReference(ref))
	}
	for _, ref := range []string{"frames/x/00.jpg", "frames/" + id.String() + "/0.jpg", "images/a.jpg"} {
		_, _, ok := storage.FrameKeyFrom(ref)
		require.False(t, ok, ref)
	}
	require.False(t, storage.IsFrameReference("images/a.jpg"))

	img, err := storage.NewImageKey("image/png")
	require.NoError(t, err)
	require.Equal(t, img, storage.ImageKeyFrom("http://localhost:8000/storage/"+img+"?exp=1"))
	require.Equal(t, img, storage.ImageKeyFrom(img))
	require.Empty(t, storage.ImageKeyFrom("frames/"+id.String()+"/00.jpg"))
	up, err := storage.NewUploadKey("video/mp4")
	require.NoError(t, err)
	require.Regexp(t, `^uploads/.+\.mp4$`, up)
}

func TestVideoIDOfKey(t *testing.T) {
	id := uuid.New()
	for _, key := range []string{storage.VideoKey(id, ".mp4"), storage.OriginalKey(id, ".mov"), storage.ThumbnailKey(id)} {
		got, ok := storage.VideoIDOfKey(key)
		if !ok || got != id {
			t.Fatalf("storage.VideoIDOfKey(%q) = %v, %v", key, got, ok)
		}
	}
	for _, key := range []string{"images/" + id.String() + ".png", "videos/x.mp4", "videos/a/" + id.String() + ".mp4", "videos",
		"frames/" + id.String() + "/01.jpg"} {
		if _, ok := storage.VideoIDOfKey(key); ok {
			t.Fatalf("storage.VideoIDOfKey(%q) matched", key)
		}
	}
}
