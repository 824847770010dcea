package api

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/storage"
)

type imageUploadRequest struct {
	ContentType string `json:"content_type"`
	// FileType is the original API's name for the content type.
	FileType  string `json:"file_type"`
	SizeBytes *int64 `json:"size_bytes"`
}

func (r *imageUploadRequest) validate() []lokiz.FieldError {
	var errs []lokiz.FieldError
	if r.ContentType == "" {
		r.ContentType = r.FileType
	}
	if r.ContentType == "" {
		errs = append(errs, fieldErr("is required", "body", "content_type"))
	} else if !slices.Contains(lokiz.ImageUploadTypes, r.ContentType) {
		errs = append(errs, fieldErr(oneOf(lokiz.ImageUploadTypes), "body", "content_type"))
	}
	return errs
}

// uploadSize checks a declared upload size against the limit and returns
// the size to sign: the declared one, or the limit when none was declared
// and the storage accepts any size up to it.
func (s *Server) uploadSize(declared *int64, limit int64) (int64, []lokiz.FieldError) {
	switch {
	case declared == nil && s.cfg.ExactUploadSize:
		return 0, []lokiz.FieldError{fieldErr("is required: the exact size of the file in bytes", "body", "size_bytes")}
	case declared == nil:
		return limit, nil
	case *declared < 1 || *declared > limit:
		return 0, []lokiz.FieldError{fieldErr(fmt.Sprintf("must be from 1 to %d bytes", limit), "body", "size_bytes")}
	}
	return *declared, nil
}

// uploadResponse tells a client how to upload one object: send `method` to
// `upload_url` with exactly `headers`, before `expires_at`, at most
// `max_bytes`.
type uploadResponse struct {
	UploadURL string            `json:"upload_url"`
	Method    string            `json:"method"`
	Headers   map[string]string `json:"headers"`
	ExpiresAt time.Time         `json:"expires_at"`
	MaxBytes  int64             `json:"max_bytes"`
}

type imageUploadResponse struct {
	uploadResponse
	ImageID uuid.UUID `json:"image_id"`
	FileKey string    `json:"file_key"`
	// ImageURL (and its alias FileURL) downloads the image once uploaded.
	ImageURL *string `json:"image_url"`
	FileURL  *string `json:"file_url"`
}

func (s *Server) presign(c *gin.Context, key, contentType string, maxBytes int64) (uploadResponse, error) {
	up, err := s.storage.PresignPut(c.Request.Context(), key, contentType, maxBytes, s.cfg.UploadURLTTL)
	if err != nil {
		return uploadResponse{}, err
	}
	return uploadResponse{UploadURL: up.URL, Method: up.Method, Headers: up.Headers, ExpiresAt: up.ExpiresAt.UTC(), MaxBytes: maxBytes}, nil
}

// createImageUpload issues an upload URL for an image (a profile picture or
// an AI input) and records it as the caller's.
func (s *Server) createImageUpload(c *gin.Context) {
	ctx := c.Request.Context()
	var req imageUploadRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	size, errs := s.uploadSize(req.SizeBytes, s.cfg.ImageMaxBytes)
	if len(errs) > 0 {
		s.writeError(c, lokiz.ValidationError(errs...))
		return
	}
	if err := s.chargeUploadBytes(c, size); err != nil {
		s.writeError(c, err)
		return
	}
	key, err := storage.NewImageKey(req.ContentType)
	if err != nil {
		s.writeError(c, err)
		return
	}
	img, err := s.store.ImageCreate(ctx, db.ImageCreateParams{
		ID: db.NewID(), UserID: mustUser(c).ID, ObjectKey: key, ContentType: req.ContentType, MaxBytes: size,
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	up, err := s.presign(c, key, req.ContentType, size)
	if err != nil {
		s.writeError(c, err)
		return
	}
	u := s.privateMediaURL(ctx, &key)
	c.JSON(http.StatusOK, imageUploadResponse{uploadResponse: up, ImageID: img.ID, FileKey: key, ImageURL: u, FileURL: u})
}
