package storage

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lokiz/lokiz/internal/keyedmac"
)

// Local keeps objects as files under one directory and hands out URLs,
// signed with HMAC-SHA256, that its Handler serves. It is the default
// backend: a laptop needs nothing else, and several processes on one machine
// (or sharing a volume) see the same objects.
type Local struct {
	root            *os.Root // every file access goes through it, so no name can leave Dir
	baseURL         string
	mac             *keyedmac.MAC // over key, for sign
	transferTimeout time.Duration
	log             *slog.Logger
	now             func() time.Time
}

var _ Store = (*Local)(nil)

// NewLocal checks cfg, creates the directory if needed and opens it. Close
// releases the directory handle.
func NewLocal(cfg LocalConfig) (*Local, error) {
	var errs []error
	dir := cmp.Or(cfg.Dir, "./data")
	baseURL := strings.TrimRight(cfg.BaseURL, "/")
	if err := checkBaseURL("storage base URL (PUBLIC_BASE_URL)", baseURL); err != nil {
		errs = append(errs, err)
	}
	if cfg.SecretKey == "" {
		errs = append(errs, errors.New("storage secret key (SECRET_KEY) is required"))
	}
	if cfg.TransferTimeout < 0 {
		errs = append(errs, errors.New("storage transfer timeout must not be negative"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("storage: %w", errors.Join(errs...))
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("storage: create STORAGE_DIR: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: open STORAGE_DIR: %w", err)
	}
	now := cfg.NowFunc
	if now == nil {
		now = time.Now
	}
	return &Local{
		root:            root,
		baseURL:         baseURL,
		mac:             keyedmac.New(DeriveKey(cfg.SecretKey)),
		transferTimeout: cmp.Or(cfg.TransferTimeout, 30*time.Minute),
		log:             cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		now:             now,
	}, nil
}

// DeriveKey returns the storage signing key for an application secret:
// HMAC-SHA256(secret, "lokiz-storage"). The app secret also signs access
// tokens; deriving a separate key means a token's signature can never pass
// as a URL signature, nor the reverse.
func DeriveKey(secret string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("lokiz-storage"))
	return mac.Sum(nil)
}

// Close releases the directory handle. The Local must not be used after.
func (l *Local) Close() error { return l.root.Close() }

// Dir returns the directory that holds the objects.
func (l *Local) Dir() string { return l.root.Name() }

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, err
	}
	fi, err := l.root.Stat(filepath.FromSlash(key))
	if err != nil {
		return ObjectInfo{}, l.fileError("stat", key, err)
	}
	if !fi.Mode().IsRegular() {
		return ObjectInfo{}, fmt.Errorf("stat %q: %w", key, ErrNotFound)
	}
	return ObjectInfo{Size: fi.Size(), ContentType: contentTypeOrDefault(key), ModTime: fi.ModTime()}, nil
}

// Open implements Store. The result is an *os.File, so it also seeks.
func (l *Local) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	f, _, err := l.open(ctx, key)
	return f, err
}

// open returns the object's file and its info; only regular files count, so
// a key naming a directory is not found.
func (l *Local) open(ctx context.Context, key string) (*os.File, fs.FileInfo, error) {
	if err := ValidateKey(key); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	f, err := l.root.Open(filepath.FromSlash(key))
	if err != nil {
		return nil, nil, l.fileError("open", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("open %q: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("open %q: %w", key, ErrNotFound)
	}
	return f, fi, nil
}

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := checkPut(key, contentType); err != nil {
		return err
	}
	if size < 0 || size > MaxPutBytes {
		return fmt.Errorf("put %q: size %d is outside 0..%d", key, size, int64(MaxPutBytes))
	}
	return l.write(ctx, key, &exactReader{r: r, left: size}, false)
}

// errObjectExists is returned by writeNew when the key is already taken.
var errObjectExists = errors.New("an object is already stored under this key")

// writeNew is write for uploads: it stores the object only if none exists
// under key, atomically (two concurrent uploads cannot both win), and
// returns errObjectExists otherwise.
func (l *Local) writeNew(ctx context.Context, key string, r io.Reader) error {
	return l.write(ctx, key, r, true)
}

// write copies r into a temp file beside the object's final name and renames
// it into place only once r is exhausted without error. The rename is atomic
// within a directory, so readers see the old object or the whole new one,
// never a partial upload. Temp names start with "." and so cannot be named by
// any key. With exclusive, the temp file is linked to the final name instead,
// which fails when that name exists, and then removed.
func (l *Local) write(ctx context.Context, key string, r io.Reader, exclusive bool) (err error) {
	name := filepath.FromSlash(key)
	if dir := filepath.Dir(name); dir != "." {
		if err := l.root.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("put %q: %w", key, err)
		}
	}
	tmp := filepath.Join(filepath.Dir(name), ".upload-"+rand.Text())
	f, err := l.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			_ = l.root.Remove(tmp)
		}
	}()
	if _, err = io.Copy(f, ctxReader{ctx: ctx, r: r}); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	// Sync before rename: otherwise a crash can leave a renamed but empty
	// file, which would look like a complete object.
	if err = f.Sync(); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err = ctx.Err(); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if exclusive {
		err = l.root.Link(tmp, name)
		_ = l.root.Remove(tmp) // the object, if linked, keeps its data
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("put %q: %w", key, errObjectExists)
		} else if err != nil {
			return fmt.Errorf("put %q: %w", key, err)
		}
		return nil
	}
	if err = l.root.Rename(tmp, name); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	return nil
}

// Delete implements Store.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	name := filepath.FromSlash(key)
	// A key that names a directory is no object; removing it would also
	// race with a concurrent upload creating a file inside it.
	if fi, err := l.root.Lstat(name); err == nil && fi.IsDir() {
		return nil
	}
	if err := l.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	return nil
}

// Move implements Store with a rename, atomic on one filesystem: readers
// see the object under src or under dst, never both missing.
func (l *Local) Move(ctx context.Context, src, dst string) error {
	if err := checkMove(src, dst); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	from, to := filepath.FromSlash(src), filepath.FromSlash(dst)
	if fi, err := l.root.Lstat(from); err != nil || !fi.Mode().IsRegular() {
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return fmt.Errorf("move %q: %w", src, err)
		}
		// No object under src: moved already, or never stored.
		if _, err := l.Stat(ctx, dst); err != nil {
			return fmt.Errorf("move %q: %w", src, err)
		}
		return nil
	}
	if dir := filepath.Dir(to); dir != "." {
		if err := l.root.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("move %q: %w", src, err)
		}
	}
	if err := l.root.Rename(from, to); err != nil {
		return fmt.Errorf("move %q to %q: %w", src, dst, err)
	}
	return nil
}

// fileError maps "no such file" (also "a parent is a file") to ErrNotFound.
func (l *Local) fileError(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%s %q: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("%s %q: %w", op, key, err)
}

// contentTypeOrDefault serves files whose extension left the allow-list
// as opaque bytes rather than guessing.
func contentTypeOrDefault(key string) string {
	return cmp.Or(ContentTypeFor(key), "application/octet-stream")
}

// objectPath is the URL path of key on the api.
func objectPath(key string) string { return path.Join(LocalPathPrefix, key) }

// ctxReader stops a copy when ctx ends, so a cancelled task does not keep
// writing a large object.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
