package storage_test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/storage"
)

func TestLocalHandler(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		local *storage.Local
		b     *backend
		srv   string // base URL of the server in front of the handler
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		l, b, srv := newLocalBackend(t)
		return &testBundle{local: l, b: b, srv: srv.URL}
	}
	presign := func(t *testing.T, tb *testBundle, contentType string, maxBytes int64) (string, storage.Upload) {
		t.Helper()
		ext, ok := storage.ExtensionFor(contentType)
		require.True(t, ok)
		key := newKey(t, "uploads", contentType)
		require.True(t, strings.HasSuffix(key, "."+ext))
		up, err := tb.local.PresignPut(t.Context(), key, contentType, maxBytes, time.Minute)
		require.NoError(t, err)
		return key, up
	}
	requireJSONError := func(t *testing.T, resp *http.Response, status int, body string) {
		t.Helper()
		got, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, status, resp.StatusCode, "body: %s", got)
		require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
		require.JSONEq(t, body, string(got))
	}

	t.Run("UploadURLShape", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		key, up := presign(t, tb, "video/quicktime", 1234)
		u, err := url.Parse(up.URL)
		require.NoError(t, err)
		require.Equal(t, tb.srv+"/storage/"+key, u.Scheme+"://"+u.Host+u.Path)
		q := u.Query()
		require.Equal(t, "video/quicktime", q.Get("ct"))
		require.Equal(t, "1234", q.Get("max"))
		require.Equal(t, strconv.FormatInt(up.ExpiresAt.Unix(), 10), q.Get("expires"))
		require.NotEmpty(t, q.Get("sig"))
		require.Equal(t, map[string]string{"Content-Type": "video/quicktime"}, up.Headers)
		require.False(t, up.ExpiresAt.Before(tb.b.clock.Now().Add(time.Minute)), "a URL lives at least its ttl")
	})

	t.Run("SmallerUploadThanLimitIsAccepted", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		key, up := presign(t, tb, "image/jpeg", 1000)
		resp := send(t, up, strings.NewReader("small"), nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, []byte("small"), readAll(t, tb.local, key))
	})

	t.Run("DeclaredLengthOverLimitIs413", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		key, up := presign(t, tb, "video/mp4", 10)
		resp := send(t, up, bytes.NewReader(make([]byte, 11)), nil)
		requireJSONError(t, resp, http.StatusRequestEntityTooLarge, `{"detail":"upload is larger than 10 bytes","code":"payload_too_large"}`)
		requireNotFound(t, tb.local, key)
	})

	t.Run("DeclaredLengthOverLimitIsRefusedBeforeReading", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		_, up := presign(t, tb, "video/mp4", 10)
		u, err := url.Parse(up.URL)
		require.NoError(t, err)
		conn, err := net.Dial("tcp", u.Host)
		require.NoError(t, err)
		defer conn.Close()
		// Headers only: the answer must come from Content-Length alone,
		// without waiting for a body that never arrives.
		_, err = fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Type: video/mp4\r\nContent-Length: 1000000\r\n\r\n", u.RequestURI(), u.Host)
		require.NoError(t, err)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		requireJSONError(t, resp, http.StatusRequestEntityTooLarge, `{"detail":"upload is larger than 10 bytes","code":"payload_too_large"}`)
	})

	t.Run("ChunkedUploadOverLimitIs413", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		key, up := presign(t, tb, "video/mp4", 10)
		// A reader of unknown length makes the client send a chunked body,
		// so the limit is found while reading, not from Content-Length.
		resp := send(t, up, io.MultiReader(strings.NewReader("0123456789"), strings.NewReader("x")), func(r *http.Request) {
			require.Equal(t, int64(0), r.ContentLength)
		})
		requireJSONError(t, resp, http.StatusRequestEntityTooLarge, `{"detail":"upload is larger than 10 bytes","code":"payload_too_large"}`)
		requireNotFound(t, tb.local, key)
		requireNoTempFiles(t, tb.local.Dir())
	})

	t.Run("ChunkedUploadWithinLimitIsStored", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		key, up := presign(t, tb, "video/mp4", 10)
		resp := send(t, up, io.MultiReader(strings.NewReader("01234"), strings.NewReader("56789")), nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, []byte("0123456789"), readAll(t, tb.local, key))
	})

	t.Run("ContentTypeMustMatchExactly", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		for _, ct := range []string{"", "image/png", "video/MP4", "video/mp4; charset=utf-8", "video/webm"} {
			key, up := presign(t, tb, "video/mp4", 10)
			resp := send(t, up, strings.NewReader("x"), func(r *http.Request) {
				if ct == "" {
					r.Header.Del("Content-Type")
				} else {
					r.Header.Set("Content-Type", ct)
				}
			})
			requireJSONError(t, resp, http.StatusForbidden, `{"detail":"Content-Type must be video/mp4","code":"forbidden"}`)
			requireNotFound(t, tb.local, key)
		}
	})

	t.Run("TamperedParametersAreForbidden", func(t *testing.T) {
		t.Parallel()
		tamper := map[string]func(q url.Values){
			"RaiseLimit":        func(q url.Values) { q.Set("max", "1000000") },
			"ExtendExpiry":      func(q url.Values) { q.Set("expires", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)) },
			"OtherContentType":  func(q url.Values) { q.Set("ct", "image/png") },
			"DropSignature":     func(q url.Values) { q.Del("sig") },
			"GarbageSignature":  func(q url.Values) { q.Set("sig", "!!!") },
			"DropExpiry":        func(q url.Values) { q.Del("expires") },
			"NegativeLimit":     func(q url.Values) { q.Set("max", "-1") },
			"SignatureOfOthers": func(q url.Values) { q.Set("sig", strings.Repeat("A", 43)) },
		}
		for name, edit := range tamper {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				tb := setup(t)
				key, up := presign(t, tb, "video/mp4", 4)
				u, err := url.Parse(up.URL)
				require.NoError(t, err)
				q := u.Query()
				edit(q)
				u.RawQuery = q.Encode()
				up.URL = u.String()
				resp := send(t, up, strings.NewReader("evil"), nil)
				requireJSONError(t, resp, http.StatusForbidden, `{"detail":"invalid signature","code":"forbidden"}`)
				requireNotFound(t, tb.local, key)
			})
		}
	})

	t.Run("ExpiredIsForbiddenWithReason", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		key, up := presign(t, tb, "video/mp4", 4)
		tb.b.clock.Advance(time.Minute + time.Second)
		resp := send(t, up, strings.NewReader("late"), nil)
		requireJSONError(t, resp, http.StatusForbidden, `{"detail":"URL has expired","code":"forbidden"}`)
		requireNotFound(t, tb.local, key)
	})

	t.Run("DownloadURLCannotUpload", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		key := newKey(t, "videos", "video/mp4")
		putBytes(t, tb.local, key, []byte("original"), "video/mp4")
		u, err := tb.local.URL(t.Context(), key, time.Minute)
		require.NoError(t, err)
		// Even with ct and max added, the GET signature does not cover a PUT.
		u += "&ct=video%2Fmp4&max=100"
		resp := send(t, storage.Upload{Method: http.MethodPut, URL: u, Headers: map[string]string{"Content-Type": "video/mp4"}}, strings.NewReader("replaced"), nil)
		requireJSONError(t, resp, http.StatusForbidden, `{"detail":"invalid signature","code":"forbidden"}`)
		require.Equal(t, []byte("original"), readAll(t, tb.local, key))
	})

	t.Run("UploadURLCannotDownload", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		key, up := presign(t, tb, "video/mp4", 8)
		putBytes(t, tb.local, key, []byte("original"), "video/mp4")
		resp, body := get(t, up.URL)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.NotContains(t, string(body), "original")
	})

	t.Run("OtherSecretIsForbidden", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		other, err := storage.NewLocal(storage.LocalConfig{Dir: tb.local.Dir(), BaseURL: tb.srv, SecretKey: "another-secret-entirely"})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, other.Close()) })
		key := newKey(t, "videos", "video/mp4")
		putBytes(t, tb.local, key, []byte("v"), "video/mp4")
		u, err := other.URL(t.Context(), key, time.Minute)
		require.NoError(t, err)
		resp, _ := get(t, u)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})

	t.Run("DownloadHeaders", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		key := newKey(t, "audio", "audio/wav")
		putBytes(t, tb.local, key, []byte("RIFF....WAVE"), "audio/wav")
		u, err := tb.local.URL(t.Context(), key, 10*time.Minute)
		require.NoError(t, err)
		resp, body := get(t, u)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "RIFF....WAVE", string(body))
		require.Equal(t, "audio/wav", resp.Header.Get("Content-Type"))
		require.Equal(t, "12", resp.Header.Get("Content-Length"))
		require.Equal(t, "bytes", resp.Header.Get("Accept-Ranges"))
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		require.NotEmpty(t, resp.Header.Get("Last-Modified"))
		cc := resp.Header.Get("Cache-Control")
		require.True(t, strings.HasPrefix(cc, "private, max-age="), cc)
		age, err := strconv.Atoi(strings.TrimPrefix(cc, "private, max-age="))
		require.NoError(t, err)
		require.InDelta(t, 600, age, 2)
	})

	t.Run("Head", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		key := newKey(t, "images", "image/webp")
		putBytes(t, tb.local, key, []byte("12345"), "image/webp")
		u, err := tb.local.URL(t.Context(), key, time.Minute)
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodHead, u, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "image/webp", resp.Header.Get("Content-Type"))
		require.Equal(t, int64(5), resp.ContentLength)
	})

	t.Run("MissingObjectIs404", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		u, err := tb.local.URL(t.Context(), newKey(t, "videos", "video/mp4"), time.Minute)
		require.NoError(t, err)
		resp, err := http.Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		requireJSONError(t, resp, http.StatusNotFound, `{"detail":"object not found","code":"not_found"}`)
	})

	t.Run("UnsignedRequestForExistingObjectIs403", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		key := newKey(t, "videos", "video/mp4")
		putBytes(t, tb.local, key, []byte("secret"), "video/mp4")
		resp, err := http.Get(tb.srv + "/storage/" + key)
		require.NoError(t, err)
		defer resp.Body.Close()
		requireJSONError(t, resp, http.StatusForbidden, `{"detail":"invalid signature","code":"forbidden"}`)
	})

	t.Run("OtherMethodIs405", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		key := newKey(t, "videos", "video/mp4")
		putBytes(t, tb.local, key, []byte("v"), "video/mp4")
		u, err := tb.local.URL(t.Context(), key, time.Minute)
		require.NoError(t, err)
		for _, method := range []string{http.MethodDelete, http.MethodPost, http.MethodPatch} {
			req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.Equal(t, "GET, HEAD, PUT", resp.Header.Get("Allow"))
			requireJSONError(t, resp, http.StatusMethodNotAllowed, `{"detail":"Method not allowed","code":"method_not_allowed"}`)
			resp.Body.Close()
		}
		require.Equal(t, []byte("v"), readAll(t, tb.local, key))
	})

	t.Run("PathOutsidePrefixIs404", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		resp, err := http.Get(tb.srv + "/videos/a.mp4")
		require.NoError(t, err)
		defer resp.Body.Close()
		requireJSONError(t, resp, http.StatusNotFound, `{"detail":"Not found","code":"not_found"}`)
	})

	t.Run("TraversalIsRejected", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		// A file beside the storage directory, and one inside it under a
		// name no key can have; neither may be read or overwritten.
		outside := filepath.Join(filepath.Dir(tb.local.Dir()), "secret.mp4")
		require.NoError(t, os.WriteFile(outside, []byte("outside"), 0o600))
		inside := filepath.Join(tb.local.Dir(), ".upload-secret.mp4")
		require.NoError(t, os.WriteFile(inside, []byte("inside"), 0o600))

		// A real signature for an innocent key, pasted onto evil paths.
		key, up := presign(t, tb, "video/mp4", 100)
		query := up.URL[strings.Index(up.URL, "?"):]
		getURL, err := tb.local.URL(t.Context(), key, time.Minute)
		require.NoError(t, err)
		getQuery := getURL[strings.Index(getURL, "?"):]

		for _, p := range []string{
			"/storage/../secret.mp4",
			"/storage/%2e%2e/secret.mp4",
			"/storage/%2E%2E%2Fsecret.mp4",
			"/storage/uploads/..%2f..%2fsecret.mp4",
			"/storage//secret.mp4",
			"/storage/.upload-secret.mp4",
			"/storage/uploads/./x.mp4",
			"/storage/..%5csecret.mp4",
			"/storage/",
		} {
			for _, method := range []string{http.MethodGet, http.MethodPut} {
				q := getQuery
				if method == http.MethodPut {
					q = query
				}
				conn, err := net.Dial("tcp", strings.TrimPrefix(tb.srv, "http://"))
				require.NoError(t, err)
				t.Cleanup(func() { conn.Close() })
				// Written by hand: an HTTP client might clean the path.
				_, err = fmt.Fprintf(conn, "%s %s%s HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\nContent-Length: 4\r\nConnection: close\r\n\r\nevil", method, p, q)
				require.NoError(t, err)
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				require.NoError(t, err)
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %s: %s", method, p, body)
				require.JSONEq(t, `{"detail":"invalid object key","code":"invalid"}`, string(body))
			}
		}
		got, err := os.ReadFile(outside)
		require.NoError(t, err)
		require.Equal(t, "outside", string(got))
		got, err = os.ReadFile(inside)
		require.NoError(t, err)
		require.Equal(t, "inside", string(got))
		entries, err := os.ReadDir(filepath.Dir(tb.local.Dir()))
		require.NoError(t, err)
		require.Len(t, entries, 2, "only the storage directory and secret.mp4")
	})

	t.Run("HalfUploadNeverAppears", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		key, up := presign(t, tb, "video/mp4", 1000)
		u, err := url.Parse(up.URL)
		require.NoError(t, err)
		conn, err := net.Dial("tcp", u.Host)
		require.NoError(t, err)
		// Runs before the server's cleanup, which waits for this connection.
		t.Cleanup(func() { conn.Close() })
		_, err = fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Type: video/mp4\r\nContent-Length: 1000\r\n\r\n%s",
			u.RequestURI(), u.Host, strings.Repeat("x", 400))
		require.NoError(t, err)

		// The handler is now writing the temp file; the key shows nothing.
		require.Eventually(t, func() bool { return len(tempFiles(t, tb.local.Dir())) == 1 }, 5*time.Second, 5*time.Millisecond)
		requireNotFound(t, tb.local, key)
		require.NoFileExists(t, filepath.Join(tb.local.Dir(), filepath.FromSlash(key)))

		// The client gives up half way: nothing may remain.
		require.NoError(t, conn.Close())
		require.Eventually(t, func() bool { return len(tempFiles(t, tb.local.Dir())) == 0 }, 5*time.Second, 5*time.Millisecond)
		requireNotFound(t, tb.local, key)
		require.NoFileExists(t, filepath.Join(tb.local.Dir(), filepath.FromSlash(key)))
	})
}

func TestLocalStore(t *testing.T) {
	t.Parallel()

	setup := func(t *testing.T) *storage.Local {
		t.Helper()
		l, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: "http://localhost:8000", SecretKey: testSecret})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, l.Close()) })
		return l
	}

	t.Run("ObjectsAreFilesUnderDir", func(t *testing.T) {
		t.Parallel()
		l := setup(t)
		key := newKey(t, "videos", "video/mp4")
		putBytes(t, l, key, []byte("on disk"), "video/mp4")
		got, err := os.ReadFile(filepath.Join(l.Dir(), filepath.FromSlash(key)))
		require.NoError(t, err)
		require.Equal(t, "on disk", string(got))
		requireNoTempFiles(t, l.Dir())
	})

	t.Run("DirectoryIsNoObject", func(t *testing.T) {
		t.Parallel()
		l := setup(t)
		key := newKey(t, "videos", "video/mp4")
		putBytes(t, l, key, []byte("v"), "video/mp4")
		_, err := l.Stat(t.Context(), "videos")
		require.ErrorIs(t, err, storage.ErrNotFound)
		_, err = l.Open(t.Context(), "videos")
		require.ErrorIs(t, err, storage.ErrNotFound)
		require.NoError(t, l.Delete(t.Context(), "videos"))
		require.Equal(t, []byte("v"), readAll(t, l, key))
	})

	t.Run("ObjectBelowAFileIsNotFound", func(t *testing.T) {
		t.Parallel()
		l := setup(t)
		putBytes(t, l, "videos/a.mp4", []byte("v"), "video/mp4")
		_, err := l.Stat(t.Context(), "videos/a.mp4/b.mp4")
		require.ErrorIs(t, err, storage.ErrNotFound)
		_, err = l.Open(t.Context(), "videos/a.mp4/b.mp4")
		require.ErrorIs(t, err, storage.ErrNotFound)
	})

	t.Run("SymlinkOutOfDirIsRefused", func(t *testing.T) {
		t.Parallel()
		l := setup(t)
		outside := filepath.Join(t.TempDir(), "secret.mp4")
		require.NoError(t, os.WriteFile(outside, []byte("outside"), 0o600))
		require.NoError(t, os.Symlink(outside, filepath.Join(l.Dir(), "link.mp4")))
		_, err := l.Open(t.Context(), "link.mp4")
		require.Error(t, err)
		require.NoError(t, l.Put(t.Context(), "link.mp4", strings.NewReader("new"), 3, "video/mp4"))
		got, err := os.ReadFile(outside)
		require.NoError(t, err)
		require.Equal(t, "outside", string(got), "the rename replaces the link, never writes through it")
	})

	t.Run("OpenSeeks", func(t *testing.T) {
		t.Parallel()
		l := setup(t)
		putBytes(t, l, "videos/a.mp4", []byte("0123456789"), "video/mp4")
		rc, err := l.Open(t.Context(), "videos/a.mp4")
		require.NoError(t, err)
		defer rc.Close()
		rs, ok := rc.(io.ReadSeeker)
		require.True(t, ok, "ffprobe wants a seekable local file")
		_, err = rs.Seek(7, io.SeekStart)
		require.NoError(t, err)
		rest, err := io.ReadAll(rs)
		require.NoError(t, err)
		require.Equal(t, "789", string(rest))
	})

	t.Run("DerivedKeySignsURLs", func(t *testing.T) {
		t.Parallel()
		mac := hmac.New(sha256.New, []byte(testSecret))
		mac.Write([]byte("lokiz-storage"))
		require.Equal(t, mac.Sum(nil), storage.DeriveKey(testSecret))
		require.NotEqual(t, storage.DeriveKey(testSecret), storage.DeriveKey(testSecret+"x"))
	})
}

func TestNewLocal(t *testing.T) {
	t.Parallel()

	t.Run("ReportsEveryProblem", func(t *testing.T) {
		t.Parallel()
		_, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: "localhost:8000", TransferTimeout: -time.Second})
		require.Error(t, err)
		require.ErrorContains(t, err, "PUBLIC_BASE_URL")
		require.ErrorContains(t, err, "SECRET_KEY")
		require.ErrorContains(t, err, "transfer timeout")
	})

	t.Run("RefusesBaseURLWithQuery", func(t *testing.T) {
		t.Parallel()
		_, err := storage.NewLocal(storage.LocalConfig{Dir: t.TempDir(), BaseURL: "http://x/?a=b", SecretKey: testSecret})
		require.ErrorContains(t, err, "PUBLIC_BASE_URL")
	})

	t.Run("CreatesDir", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "a", "b")
		l, err := storage.NewLocal(storage.LocalConfig{Dir: dir, BaseURL: "http://localhost:8000/", SecretKey: testSecret})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, l.Close()) })
		require.DirExists(t, dir)
		u, err := l.URL(t.Context(), "videos/a.mp4", time.Minute)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(u, "http://localhost:8000/storage/videos/a.mp4?"), u)
	})

	t.Run("RefusesDirThatIsAFile", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(file, nil, 0o600))
		_, err := storage.NewLocal(storage.LocalConfig{Dir: file, BaseURL: "http://localhost:8000", SecretKey: testSecret})
		require.ErrorContains(t, err, "STORAGE_DIR")
	})
}

// tempFiles lists the in-progress upload files under dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".upload-") {
			found = append(found, p)
		}
		return nil
	})
	require.NoError(t, err)
	return found
}

func requireNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	require.Empty(t, tempFiles(t, dir))
}
