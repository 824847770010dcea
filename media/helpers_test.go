package media_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/jpeg"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// fileHash returns the SHA-256 of the file at path.
func fileHash(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// decodeJPEG decodes the file at path, failing unless it is a real JPEG.
func decodeJPEG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := jpeg.Decode(f)
	require.NoError(t, err, "%s is not a JPEG", path)
	return img
}

func splitLines(b []byte) [][]byte { return bytes.Split(b, []byte("\n")) }

func splitFields(b []byte) [][]byte {
	return bytes.FieldsFunc(b, func(r rune) bool { return r == ',' || r == ' ' })
}
