package storage_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/storage"
)

func TestNew(t *testing.T) {
	t.Parallel()

	local := storage.LocalConfig{Dir: t.TempDir(), BaseURL: "http://localhost:8000", SecretKey: testSecret}

	t.Run("LocalIsTheDefault", func(t *testing.T) {
		t.Parallel()
		for _, name := range []string{"", "local"} {
			s, err := storage.New(t.Context(), storage.Config{Backend: name, Local: local})
			require.NoError(t, err)
			l, ok := s.(*storage.Local)
			require.True(t, ok, "%T", s)
			require.NotNil(t, l.Handler())
			require.NoError(t, l.Close())
		}
	})

	t.Run("S3", func(t *testing.T) {
		t.Parallel()
		s, err := storage.New(t.Context(), storage.Config{Backend: "s3", S3: storage.S3Config{Bucket: "b", Region: "eu-west-1", Credentials: testCreds}})
		require.NoError(t, err)
		require.IsType(t, &storage.S3{}, s)
	})

	t.Run("UnknownBackend", func(t *testing.T) {
		t.Parallel()
		_, err := storage.New(t.Context(), storage.Config{Backend: "gcs", Local: local})
		require.ErrorContains(t, err, `STORAGE_BACKEND must be "local" or "s3", not "gcs"`)
	})

	t.Run("OnlyTheChosenBackendIsChecked", func(t *testing.T) {
		t.Parallel()
		s, err := storage.New(t.Context(), storage.Config{Backend: "local", Local: local, S3: storage.S3Config{Endpoint: "::"}})
		require.NoError(t, err)
		require.NoError(t, s.(*storage.Local).Close())
		_, err = storage.New(t.Context(), storage.Config{Backend: "s3"})
		require.ErrorContains(t, err, "S3_BUCKET")
	})
}
