package storage_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/storage"
)

func TestS3(t *testing.T) {
	t.Parallel()

	t.Run("PresignPutSignsTypeLengthAndIfNoneMatch", func(t *testing.T) {
		t.Parallel()
		s, _, f := newS3Backend(t)
		key := newKey(t, "videos", "video/mp4")
		up, err := s.PresignPut(t.Context(), key, "video/mp4", 2048, 10*time.Minute)
		require.NoError(t, err)
		require.Equal(t, http.MethodPut, up.Method)
		require.Equal(t, map[string]string{"Content-Type": "video/mp4", "Content-Length": "2048", "If-None-Match": "*"}, up.Headers)
		u, err := url.Parse(up.URL)
		require.NoError(t, err)
		require.Equal(t, f.srv.URL+"/"+testBucket+"/"+key, u.Scheme+"://"+u.Host+u.Path, "path-style with an endpoint")
		require.Equal(t, "content-length;content-type;host;if-none-match", u.Query().Get("X-Amz-SignedHeaders"))
		require.Equal(t, "600", u.Query().Get("X-Amz-Expires"))
		signedAt, err := time.Parse("20060102T150405Z", u.Query().Get("X-Amz-Date"))
		require.NoError(t, err)
		require.Equal(t, signedAt.Add(10*time.Minute), up.ExpiresAt)
	})

	t.Run("UploadShorterThanSignedIsForbidden", func(t *testing.T) {
		t.Parallel()
		// S3 signs an exact Content-Length, unlike the local backend's
		// upper bound: callers pass the declared size.
		s, _, _ := newS3Backend(t)
		key := newKey(t, "videos", "video/mp4")
		up, err := s.PresignPut(t.Context(), key, "video/mp4", 100, time.Minute)
		require.NoError(t, err)
		resp := send(t, up, bytes.NewReader(make([]byte, 50)), nil)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		requireNotFound(t, s, key)
	})

	t.Run("UnsignedDownloadIsForbidden", func(t *testing.T) {
		t.Parallel()
		// The fake refuses anonymous reads, as a private bucket does, so
		// the download tests prove that the signature grants access.
		s, _, f := newS3Backend(t)
		key := newKey(t, "images", "image/png")
		putBytes(t, s, key, []byte("png"), "image/png")
		resp, body := get(t, f.srv.URL+"/"+testBucket+"/"+key)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.NotContains(t, string(body), "png")
	})

	t.Run("PublicURL", func(t *testing.T) {
		t.Parallel()
		s, err := storage.NewS3(t.Context(), storage.S3Config{
			Bucket: testBucket, Region: testRegion, Credentials: testCreds,
			PublicURL: "https://cdn.example.com/media/",
		})
		require.NoError(t, err)
		for _, ttl := range []time.Duration{time.Minute, storage.MaxTTL} {
			u, err := s.URL(t.Context(), "videos/a.mp4", ttl)
			require.NoError(t, err)
			require.Equal(t, "https://cdn.example.com/media/videos/a.mp4", u)
		}
		_, err = s.URL(t.Context(), "../a.mp4", time.Minute)
		require.ErrorIs(t, err, storage.ErrInvalidKey)
	})

	t.Run("SignedURLIgnoresPublicURL", func(t *testing.T) {
		// Private objects must never get a CDN URL, which never expires.
		t.Parallel()
		f := newFakeS3(t)
		s, err := storage.NewS3(t.Context(), storage.S3Config{
			Bucket: testBucket, Region: testRegion, Endpoint: f.srv.URL, Credentials: testCreds,
			HTTPClient: f.srv.Client(), PublicURL: "https://cdn.example.com/media",
		})
		require.NoError(t, err)
		key := newKey(t, "videos", "video/mp4")
		putBytes(t, s, key, []byte("private"), "video/mp4")
		u, err := s.SignedURL(t.Context(), key, 3*time.Minute)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(u, f.srv.URL+"/"), u)
		require.NotContains(t, u, "cdn.example.com")
		require.Contains(t, u, "X-Amz-Expires=180")
		resp, body := get(t, u)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "private", string(body))
		f.clock.Advance(3*time.Minute + 2*time.Second)
		resp, _ = get(t, u)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		_, err = s.SignedURL(t.Context(), "../a.mp4", time.Minute)
		require.ErrorIs(t, err, storage.ErrInvalidKey)
	})

	t.Run("VirtualHostedWithoutEndpoint", func(t *testing.T) {
		t.Parallel()
		s, err := storage.NewS3(t.Context(), storage.S3Config{Bucket: "lokiz-media", Region: "eu-west-1", Credentials: testCreds})
		require.NoError(t, err)
		u, err := s.URL(t.Context(), "videos/a.mp4", time.Minute)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(u, "https://lokiz-media.s3.eu-west-1.amazonaws.com/videos/a.mp4?"), u)
		require.Contains(t, u, "X-Amz-Signature=")
	})

	t.Run("MissingBucketIsNotObjectNotFound", func(t *testing.T) {
		t.Parallel()
		f := newFakeS3(t)
		s, err := storage.NewS3(t.Context(), storage.S3Config{
			Bucket: "absent", Region: testRegion, Endpoint: f.srv.URL, Credentials: testCreds, HTTPClient: f.srv.Client(),
		})
		require.NoError(t, err)
		_, err = s.Open(t.Context(), "videos/a.mp4")
		require.Error(t, err)
		require.NotErrorIs(t, err, storage.ErrNotFound)
		require.Error(t, s.Put(t.Context(), "videos/a.mp4", strings.NewReader("x"), 1, "video/mp4"))
	})

	t.Run("StoresContentTypeOnObject", func(t *testing.T) {
		t.Parallel()
		s, _, f := newS3Backend(t)
		key := newKey(t, "audio", "audio/mpeg")
		putBytes(t, s, key, []byte("ID3"), "audio/mpeg")
		u, err := s.URL(t.Context(), key, time.Minute)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(u, f.srv.URL+"/"+testBucket+"/"+key+"?"), u)
		resp, body := get(t, u)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "audio/mpeg", resp.Header.Get("Content-Type"))
		require.Equal(t, "ID3", string(body))
	})
}

func TestNewS3(t *testing.T) {
	t.Parallel()

	_, err := storage.NewS3(t.Context(), storage.S3Config{Endpoint: "minio:9000", PublicURL: "cdn.example.com"})
	require.Error(t, err)
	for _, want := range []string{"S3_BUCKET", "S3_ENDPOINT", "S3_PUBLIC_URL"} {
		require.ErrorContains(t, err, want)
	}
}
