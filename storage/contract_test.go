package storage_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/storage"
)

// TestContract runs one table of behaviours against both backends: what the
// api and the worker may rely on whichever backend is configured.
func TestContract(t *testing.T) {
	t.Parallel()

	backends := map[string]func(t *testing.T) *backend{
		"Local": func(t *testing.T) *backend { _, b, _ := newLocalBackend(t); return b },
		"S3":    func(t *testing.T) *backend { _, b, _ := newS3Backend(t); return b },
	}
	for name, setup := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range contractCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, setup(t))
				})
			}
		})
	}
}

var contractCases = []struct {
	name string
	run  func(t *testing.T, b *backend)
}{
	{"PutThenStatAndOpen", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/mp4")
		data := randomBytes(t, 3000)
		before := time.Now().Add(-2 * time.Second) // S3 dates have second precision
		putBytes(t, b.store, key, data, "video/mp4")

		info, err := b.store.Stat(t.Context(), key)
		require.NoError(t, err)
		require.Equal(t, int64(len(data)), info.Size)
		require.Equal(t, "video/mp4", info.ContentType)
		require.WithinRange(t, info.ModTime, before, time.Now().Add(2*time.Second))
		require.Equal(t, data, readAll(t, b.store, key))
	}},
	{"PutEmptyObject", func(t *testing.T, b *backend) {
		key := newKey(t, "images", "image/png")
		putBytes(t, b.store, key, nil, "image/png")
		info, err := b.store.Stat(t.Context(), key)
		require.NoError(t, err)
		require.Zero(t, info.Size)
		require.Empty(t, readAll(t, b.store, key))
	}},
	{"PutReplacesObject", func(t *testing.T, b *backend) {
		key := newKey(t, "thumbnails", "image/jpeg")
		putBytes(t, b.store, key, []byte("first version"), "image/jpeg")
		putBytes(t, b.store, key, []byte("second"), "image/jpeg")
		require.Equal(t, []byte("second"), readAll(t, b.store, key))
	}},
	{"PutFromSlowReader", func(t *testing.T, b *backend) {
		// One byte per Read, as from a pipe: the final-chunk check of the
		// size must not lose or duplicate bytes.
		key := newKey(t, "audio", "audio/mpeg")
		data := randomBytes(t, 700)
		require.NoError(t, b.store.Put(t.Context(), key, iotest.OneByteReader(bytes.NewReader(data)), int64(len(data)), "audio/mpeg"))
		require.Equal(t, data, readAll(t, b.store, key))
	}},
	{"PutShortReaderStoresNothing", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/webm")
		err := b.store.Put(t.Context(), key, bytes.NewReader(make([]byte, 50)), 100, "video/webm")
		require.Error(t, err)
		requireNotFound(t, b.store, key)
	}},
	{"PutLongReaderStoresNothing", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/webm")
		err := b.store.Put(t.Context(), key, bytes.NewReader(make([]byte, 101)), 100, "video/webm")
		require.Error(t, err)
		requireNotFound(t, b.store, key)
	}},
	{"PutFailingReaderStoresNothing", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/mp4")
		r := io.MultiReader(bytes.NewReader(make([]byte, 64)), iotest.ErrReader(io.ErrClosedPipe))
		require.Error(t, b.store.Put(t.Context(), key, r, 128, "video/mp4"))
		requireNotFound(t, b.store, key)
	}},
	{"PutCancelledStoresNothing", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/mp4")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		require.ErrorIs(t, b.store.Put(ctx, key, bytes.NewReader([]byte("x")), 1, "video/mp4"), context.Canceled)
		requireNotFound(t, b.store, key)
	}},
	{"PutContentTypeMustMatchKey", func(t *testing.T, b *backend) {
		for _, tc := range []struct{ key, contentType string }{
			{"videos/a.mp4", "image/png"},
			{"videos/a.mp4", "video/MP4"},
			{"videos/a.mp4", "video/mp4; codecs=avc1"},
			{"pages/a.html", "text/html"},
			{"videos/noext", "video/mp4"},
		} {
			err := b.store.Put(t.Context(), tc.key, bytes.NewReader([]byte("x")), 1, tc.contentType)
			require.ErrorIs(t, err, storage.ErrUnsupportedContentType, "%+v", tc)
			require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err))
			_, err = b.store.PresignPut(t.Context(), tc.key, tc.contentType, 1, time.Minute)
			require.ErrorIs(t, err, storage.ErrUnsupportedContentType, "%+v", tc)
		}
	}},
	{"MissingObjectIsNotFound", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/mp4")
		_, err := b.store.Stat(t.Context(), key)
		require.ErrorIs(t, err, storage.ErrNotFound)
		require.Equal(t, lokiz.ENOTFOUND, lokiz.ErrorCode(err))
		_, err = b.store.Open(t.Context(), key)
		require.ErrorIs(t, err, storage.ErrNotFound)
	}},
	{"DeleteIsIdempotent", func(t *testing.T, b *backend) {
		key := newKey(t, "images", "image/webp")
		putBytes(t, b.store, key, []byte("webp"), "image/webp")
		require.NoError(t, b.store.Delete(t.Context(), key))
		requireNotFound(t, b.store, key)
		require.NoError(t, b.store.Delete(t.Context(), key))
		require.NoError(t, b.store.Delete(t.Context(), newKey(t, "images", "image/webp")))
	}},
	{"DeleteLeavesOtherObjects", func(t *testing.T, b *backend) {
		keep, drop := newKey(t, "images", "image/png"), newKey(t, "images", "image/png")
		putBytes(t, b.store, keep, []byte("keep"), "image/png")
		putBytes(t, b.store, drop, []byte("drop"), "image/png")
		require.NoError(t, b.store.Delete(t.Context(), drop))
		require.Equal(t, []byte("keep"), readAll(t, b.store, keep))
	}},
	{"InvalidKeysAreRefusedEverywhere", func(t *testing.T, b *backend) {
		for _, key := range invalidKeys {
			ctx := t.Context()
			_, err := b.store.Stat(ctx, key)
			require.ErrorIs(t, err, storage.ErrInvalidKey, "Stat %q", key)
			_, err = b.store.Open(ctx, key)
			require.ErrorIs(t, err, storage.ErrInvalidKey, "Open %q", key)
			require.ErrorIs(t, b.store.Put(ctx, key, strings.NewReader("x"), 1, "video/mp4"), storage.ErrInvalidKey, "Put %q", key)
			require.ErrorIs(t, b.store.Delete(ctx, key), storage.ErrInvalidKey, "Delete %q", key)
			_, err = b.store.PresignPut(ctx, key, "video/mp4", 1, time.Minute)
			require.ErrorIs(t, err, storage.ErrInvalidKey, "PresignPut %q", key)
			_, err = b.store.URL(ctx, key, time.Minute)
			require.ErrorIs(t, err, storage.ErrInvalidKey, "URL %q", key)
		}
	}},
	{"PresignRefusesBadLimits", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/mp4")
		for _, tc := range []struct {
			size int64
			ttl  time.Duration
		}{
			{0, time.Minute},
			{-1, time.Minute},
			{storage.MaxPutBytes + 1, time.Minute},
			{10, 0},
			{10, time.Millisecond},
			{10, storage.MaxTTL + time.Second},
		} {
			_, err := b.store.PresignPut(t.Context(), key, "video/mp4", tc.size, tc.ttl)
			require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err), "%+v", tc)
		}
		_, err := b.store.URL(t.Context(), key, storage.MaxTTL+time.Second)
		require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err))
	}},
	{"PresignedUploadThenDownload", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/mp4")
		data := randomBytes(t, 4096)
		up, err := b.store.PresignPut(t.Context(), key, "video/mp4", int64(len(data)), 15*time.Minute)
		require.NoError(t, err)
		require.Equal(t, http.MethodPut, up.Method)
		require.Equal(t, "video/mp4", up.Headers["Content-Type"])
		require.WithinDuration(t, time.Now().Add(15*time.Minute), up.ExpiresAt, 2*time.Second)
		require.Contains(t, up.URL, key)

		resp := send(t, up, bytes.NewReader(data), nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)

		info, err := b.store.Stat(t.Context(), key)
		require.NoError(t, err)
		require.Equal(t, int64(len(data)), info.Size)
		require.Equal(t, "video/mp4", info.ContentType)

		u, err := b.store.URL(t.Context(), key, time.Hour)
		require.NoError(t, err)
		dl, body := get(t, u)
		require.Equal(t, http.StatusOK, dl.StatusCode)
		require.Equal(t, "video/mp4", dl.Header.Get("Content-Type"))
		require.Equal(t, data, body)
	}},
	{"UploadNeverReplacesStoredObject", func(t *testing.T, b *backend) {
		// Once stored (and maybe checked and used), an object cannot be
		// replaced through its upload URL, which cannot be revoked.
		key := newKey(t, "images", "image/png")
		up, err := b.store.PresignPut(t.Context(), key, "image/png", 5, 15*time.Minute)
		require.NoError(t, err)
		resp := send(t, up, strings.NewReader("first"), nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp = send(t, up, strings.NewReader("evil!"), nil)
		require.Equal(t, http.StatusPreconditionFailed, resp.StatusCode)
		require.Equal(t, []byte("first"), readAll(t, b.store, key))

		// Also when the object was written by Put (a worker's output).
		other := newKey(t, "images", "image/png")
		putBytes(t, b.store, other, []byte("ours!"), "image/png")
		up, err = b.store.PresignPut(t.Context(), other, "image/png", 5, 15*time.Minute)
		require.NoError(t, err)
		resp = send(t, up, strings.NewReader("evil!"), nil)
		require.Equal(t, http.StatusPreconditionFailed, resp.StatusCode)
		require.Equal(t, []byte("ours!"), readAll(t, b.store, other))
	}},
	{"ConcurrentUploadsToOneKeyStoreOne", func(t *testing.T, b *backend) {
		key := newKey(t, "images", "image/png")
		up, err := b.store.PresignPut(t.Context(), key, "image/png", 4, 15*time.Minute)
		require.NoError(t, err)
		const n = 6
		codes := make([]int, n)
		var g errgroup.Group
		for i := range n {
			g.Go(func() error {
				req, err := http.NewRequestWithContext(t.Context(), up.Method, up.URL, strings.NewReader(fmt.Sprintf("v%03d", i)))
				if err != nil {
					return err
				}
				for k, v := range up.Headers {
					req.Header.Set(k, v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				codes[i] = resp.StatusCode
				return nil
			})
		}
		require.NoError(t, g.Wait())
		var won []int
		for i, c := range codes {
			if c == http.StatusOK {
				won = append(won, i)
			} else {
				require.Equal(t, http.StatusPreconditionFailed, c)
			}
		}
		require.Len(t, won, 1, "exactly one upload is stored: %v", codes)
		require.Equal(t, fmt.Sprintf("v%03d", won[0]), string(readAll(t, b.store, key)))
	}},
	{"SignedURLExpires", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/mp4")
		putBytes(t, b.store, key, []byte("clip"), "video/mp4")
		u, err := b.store.SignedURL(t.Context(), key, time.Minute)
		require.NoError(t, err)
		resp, body := get(t, u)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "clip", string(body))
		b.clock.Advance(time.Minute + 2*time.Second)
		resp, _ = get(t, u)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		_, err = b.store.SignedURL(t.Context(), key, storage.MaxTTL+time.Second)
		require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err))
	}},
	{"DownloadAfterDeleteIsNotFound", func(t *testing.T, b *backend) {
		// A URL issued before a delete stops serving the object.
		key := newKey(t, "videos", "video/mp4")
		putBytes(t, b.store, key, []byte("clip"), "video/mp4")
		u, err := b.store.URL(t.Context(), key, time.Hour)
		require.NoError(t, err)
		s, err := b.store.SignedURL(t.Context(), key, time.Hour)
		require.NoError(t, err)
		require.NoError(t, b.store.Delete(t.Context(), key))
		for _, raw := range []string{u, s} {
			resp, body := get(t, raw)
			require.Equal(t, http.StatusNotFound, resp.StatusCode)
			require.NotContains(t, string(body), "clip")
		}
	}},
	{"MoveWithholdsURLsUntilMovedBack", func(t *testing.T, b *backend) {
		// A URL issued before a move stops serving the object, and serves
		// it again once the object is moved back (a removed video's media,
		// then its restore).
		key := newKey(t, "videos", "video/mp4")
		withheld := storage.WithheldKey(key)
		data := randomBytes(t, 2000)
		putBytes(t, b.store, key, data, "video/mp4")
		u, err := b.store.URL(t.Context(), key, time.Hour)
		require.NoError(t, err)
		s, err := b.store.SignedURL(t.Context(), key, time.Hour)
		require.NoError(t, err)

		require.NoError(t, b.store.Move(t.Context(), key, withheld))
		requireNotFound(t, b.store, key)
		require.Equal(t, data, readAll(t, b.store, withheld))
		info, err := b.store.Stat(t.Context(), withheld)
		require.NoError(t, err)
		require.Equal(t, "video/mp4", info.ContentType)
		for _, raw := range []string{u, s} {
			resp, body := get(t, raw)
			require.Equal(t, http.StatusNotFound, resp.StatusCode)
			require.NotContains(t, string(body), string(data))
		}

		require.NoError(t, b.store.Move(t.Context(), withheld, key))
		requireNotFound(t, b.store, withheld)
		for _, raw := range []string{u, s} {
			resp, body := get(t, raw)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, data, body)
		}
	}},
	{"MoveIsReRunnable", func(t *testing.T, b *backend) {
		key := newKey(t, "thumbnails", "image/jpeg")
		dst := storage.WithheldKey(key)
		putBytes(t, b.store, key, []byte("thumb"), "image/jpeg")
		require.NoError(t, b.store.Move(t.Context(), key, dst))
		// A retry after the move: nothing under src, the object under dst.
		require.NoError(t, b.store.Move(t.Context(), key, dst))
		require.Equal(t, []byte("thumb"), readAll(t, b.store, dst))
		requireNotFound(t, b.store, key)

		// A crash between the copy and the delete left both: the rerun
		// finishes the move.
		putBytes(t, b.store, key, []byte("thumb"), "image/jpeg")
		require.NoError(t, b.store.Move(t.Context(), key, dst))
		requireNotFound(t, b.store, key)
		require.Equal(t, []byte("thumb"), readAll(t, b.store, dst))
	}},
	{"MoveOfNothingIsNotFound", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/mp4")
		require.ErrorIs(t, b.store.Move(t.Context(), key, storage.WithheldKey(key)), storage.ErrNotFound)
	}},
	{"MoveRefusesBadKeys", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/mp4")
		putBytes(t, b.store, key, []byte("clip"), "video/mp4")
		for _, tc := range []struct{ src, dst string }{
			{key, "withheld/clip.jpg"},         // another extension
			{key, key},                         // onto itself
			{key, "../" + key},                 // not a key
			{"Videos/A.mp4", "withheld/a.mp4"}, // not a key
		} {
			err := b.store.Move(t.Context(), tc.src, tc.dst)
			require.Equal(t, lokiz.EINVALID, lokiz.ErrorCode(err), "%+v", tc)
		}
		require.Equal(t, []byte("clip"), readAll(t, b.store, key))
	}},
	{"DownloadRange", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/mp4")
		putBytes(t, b.store, key, []byte("0123456789"), "video/mp4")
		u, err := b.store.URL(t.Context(), key, time.Minute)
		require.NoError(t, err)
		resp, body := get(t, u, "Range", "bytes=2-5")
		require.Equal(t, http.StatusPartialContent, resp.StatusCode)
		require.Equal(t, "bytes 2-5/10", resp.Header.Get("Content-Range"))
		require.Equal(t, "2345", string(body))
	}},
	{"UploadWithOtherContentTypeIsForbidden", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/mp4")
		up, err := b.store.PresignPut(t.Context(), key, "video/mp4", 4, time.Minute)
		require.NoError(t, err)
		resp := send(t, up, strings.NewReader("<h1>"), func(r *http.Request) { r.Header.Set("Content-Type", "text/html") })
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		requireNotFound(t, b.store, key)
	}},
	{"UploadOverLimitIsRefused", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/mp4")
		up, err := b.store.PresignPut(t.Context(), key, "video/mp4", 100, time.Minute)
		require.NoError(t, err)
		resp := send(t, up, bytes.NewReader(make([]byte, 101)), nil)
		require.Equal(t, b.tooLargeStatus, resp.StatusCode)
		requireNotFound(t, b.store, key)
	}},
	{"UploadAfterExpiryIsForbidden", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/mp4")
		up, err := b.store.PresignPut(t.Context(), key, "video/mp4", 4, time.Minute)
		require.NoError(t, err)
		b.clock.Advance(time.Minute + 2*time.Second)
		resp := send(t, up, strings.NewReader("late"), nil)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		requireNotFound(t, b.store, key)
	}},
	{"UploadWithTamperedSignatureIsForbidden", func(t *testing.T, b *backend) {
		key := newKey(t, "videos", "video/mp4")
		up, err := b.store.PresignPut(t.Context(), key, "video/mp4", 4, time.Minute)
		require.NoError(t, err)
		up.URL = tamperQuery(t, up.URL, b.sigParam)
		resp := send(t, up, strings.NewReader("evil"), nil)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		requireNotFound(t, b.store, key)
	}},
	{"UploadToAnotherKeyIsForbidden", func(t *testing.T, b *backend) {
		key, other := newKey(t, "videos", "video/mp4"), newKey(t, "videos", "video/mp4")
		up, err := b.store.PresignPut(t.Context(), key, "video/mp4", 4, time.Minute)
		require.NoError(t, err)
		up.URL = strings.Replace(up.URL, key, other, 1)
		resp := send(t, up, strings.NewReader("evil"), nil)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		requireNotFound(t, b.store, key)
		requireNotFound(t, b.store, other)
	}},
	{"DownloadAfterExpiryIsForbidden", func(t *testing.T, b *backend) {
		key := newKey(t, "images", "image/png")
		putBytes(t, b.store, key, []byte("png"), "image/png")
		u, err := b.store.URL(t.Context(), key, time.Minute)
		require.NoError(t, err)
		resp, _ := get(t, u)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		b.clock.Advance(time.Minute + 2*time.Second)
		resp, body := get(t, u)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.NotContains(t, string(body), "png")
	}},
	{"DownloadWithTamperedSignatureIsForbidden", func(t *testing.T, b *backend) {
		key := newKey(t, "images", "image/png")
		putBytes(t, b.store, key, []byte("png"), "image/png")
		u, err := b.store.URL(t.Context(), key, time.Minute)
		require.NoError(t, err)
		resp, _ := get(t, tamperQuery(t, u, b.sigParam))
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	}},
	{"DownloadOfAnotherKeyIsForbidden", func(t *testing.T, b *backend) {
		mine, theirs := newKey(t, "images", "image/png"), newKey(t, "images", "image/png")
		putBytes(t, b.store, theirs, []byte("private"), "image/png")
		u, err := b.store.URL(t.Context(), mine, time.Minute)
		require.NoError(t, err)
		resp, body := get(t, strings.Replace(u, mine, theirs, 1))
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.NotContains(t, string(body), "private")
	}},
	{"DownloadOfMissingObjectIsNotFound", func(t *testing.T, b *backend) {
		u, err := b.store.URL(t.Context(), newKey(t, "videos", "video/mp4"), time.Minute)
		require.NoError(t, err)
		resp, _ := get(t, u)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	}},
	{"ConcurrentUploadsToDistinctKeys", func(t *testing.T, b *backend) {
		const n = 8
		keys := make([]string, n)
		blobs := make([][]byte, n)
		uploads := make([]storage.Upload, n)
		for i := range n {
			keys[i] = newKey(t, "videos", "video/mp4")
			blobs[i] = randomBytes(t, 2000+i*97)
			up, err := b.store.PresignPut(t.Context(), keys[i], "video/mp4", int64(len(blobs[i])), time.Minute)
			require.NoError(t, err)
			uploads[i] = up
		}
		var g errgroup.Group
		for i := range n {
			g.Go(func() error {
				req, err := http.NewRequestWithContext(t.Context(), uploads[i].Method, uploads[i].URL, bytes.NewReader(blobs[i]))
				if err != nil {
					return err
				}
				for k, v := range uploads[i].Headers {
					req.Header.Set(k, v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					body, _ := io.ReadAll(resp.Body)
					return fmt.Errorf("upload %d: %d %s", i, resp.StatusCode, body)
				}
				return nil
			})
		}
		require.NoError(t, g.Wait())
		for i := range n {
			require.Equal(t, blobs[i], readAll(t, b.store, keys[i]), "object %d", i)
		}
	}},
}

// invalidKeys must be refused by every method of every backend.
var invalidKeys = []string{
	"",
	"/videos/a.mp4",
	"../a.mp4",
	"videos/../../etc/passwd",
	"videos/..",
	"videos/a..mp4",
	"videos//a.mp4",
	"videos/a.mp4/",
	"videos/./a.mp4",
	".upload-abc",
	"videos/.upload-abc",
	"Videos/a.mp4",
	"videos/a b.mp4",
	"videos\\a.mp4",
	"videos/a.mp4?x=1",
	"videos/a%2e.mp4",
	"videos/ä.mp4",
	"videos/a\x00.mp4",
	"videos/" + strings.Repeat("a", storage.MaxKeyLen) + ".mp4",
}

// tamperQuery flips the first character of one query parameter's value.
func tamperQuery(t *testing.T, rawURL, param string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	q := u.Query()
	v := q.Get(param)
	require.NotEmpty(t, v, "no %s in URL", param)
	flipped := "A"
	if v[0] == 'A' {
		flipped = "B"
	}
	q.Set(param, flipped+v[1:])
	u.RawQuery = q.Encode()
	return u.String()
}
