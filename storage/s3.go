package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// S3 keeps objects in an S3-compatible bucket. Clients upload and download
// directly with presigned URLs, so object bytes never pass through the api.
type S3 struct {
	client    *s3.Client
	presign   *s3.PresignClient
	bucket    string
	publicURL string
}

var _ Store = (*S3)(nil)

// NewS3 checks cfg and builds the client. It opens no connection: a wrong
// bucket or missing credentials show up on the first call.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	var errs []error
	if cfg.Bucket == "" {
		errs = append(errs, errors.New("S3_BUCKET is required for the s3 backend"))
	}
	if cfg.Endpoint != "" {
		if err := checkBaseURL("S3_ENDPOINT", cfg.Endpoint); err != nil {
			errs = append(errs, err)
		}
	}
	publicURL := strings.TrimRight(cfg.PublicURL, "/")
	if publicURL != "" {
		if err := checkBaseURL("S3_PUBLIC_URL", publicURL); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("storage: %w", errors.Join(errs...))
	}

	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("storage: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		// Set here rather than in LoadDefaultConfig, which refuses a plain
		// *http.Client when AWS_CA_BUNDLE is set.
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.UsePathStyle = true
		}
		// The SDK's default adds CRC checksums (and aws-chunked bodies) to
		// every upload; many S3-compatible servers reject or mishandle them,
		// and a presigned PUT would bind a checksum the client cannot know.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &S3{
		client:    client,
		presign:   s3.NewPresignClient(client),
		bucket:    cfg.Bucket,
		publicURL: publicURL,
	}, nil
}

// PresignPut implements Store. Content-Type, Content-Length and
// If-None-Match: * are signed headers: S3 refuses (403) a PUT whose values
// differ, so the body must be exactly maxBytes long, and refuses (412) the
// PUT once an object exists under key (a conditional write), so a presigned
// URL, which cannot be revoked, still cannot replace a stored object.
func (s *S3) PresignPut(ctx context.Context, key, contentType string, maxBytes int64, ttl time.Duration) (Upload, error) {
	if err := checkPut(key, contentType); err != nil {
		return Upload{}, err
	}
	if err := checkSize(maxBytes); err != nil {
		return Upload{}, err
	}
	if err := checkTTL(ttl); err != nil {
		return Upload{}, err
	}
	req, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		ContentType:   aws.String(contentType),
		ContentLength: aws.Int64(maxBytes),
		IfNoneMatch:   aws.String("*"),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return Upload{}, fmt.Errorf("presign put %q: %w", key, err)
	}
	headers := make(map[string]string, len(req.SignedHeader))
	for name, values := range req.SignedHeader {
		if name != "Host" { // set by every HTTP client from the URL
			headers[name] = strings.Join(values, ",")
		}
	}
	return Upload{Method: req.Method, URL: req.URL, Headers: headers, ExpiresAt: presignedExpiry(req.URL, ttl)}, nil
}

// presignedExpiry reads the signing time from the URL: the SDK truncates it
// to the second, so time.Now()+ttl would promise up to a second too much.
func presignedExpiry(rawURL string, ttl time.Duration) time.Time {
	if u, err := url.Parse(rawURL); err == nil {
		if at, err := time.Parse("20060102T150405Z", u.Query().Get("X-Amz-Date")); err == nil {
			return at.Add(ttl).UTC()
		}
	}
	return time.Now().Add(ttl).Truncate(time.Second).UTC()
}

// URL implements Store. With a public base configured it returns
// <PublicURL>/<key> and ignores ttl; otherwise a presigned GET.
func (s *S3) URL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	if err := checkTTL(ttl); err != nil {
		return "", err
	}
	if s.publicURL != "" {
		return s.publicURL + "/" + key, nil // keys need no escaping
	}
	return s.presignGet(ctx, key, ttl)
}

// SignedURL implements Store: always a presigned GET, whatever PublicURL.
func (s *S3) SignedURL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	if err := checkTTL(ttl); err != nil {
		return "", err
	}
	return s.presignGet(ctx, key, ttl)
}

func (s *S3) presignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(key),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign get %q: %w", key, err)
	}
	return req.URL, nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return ObjectInfo{}, s3Error("stat", key, err)
	}
	return ObjectInfo{
		Size:        aws.ToInt64(out.ContentLength),
		ContentType: aws.ToString(out.ContentType),
		ModTime:     aws.ToTime(out.LastModified),
	}, nil
}

// Open implements Store.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, s3Error("open", key, err)
	}
	return out.Body, nil
}

// Put implements Store. The body is sent as UNSIGNED-PAYLOAD: signing it
// would need a seekable reader read twice, or TLS plus a trailing checksum,
// and plain-HTTP endpoints such as a local MinIO must work too.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := checkPut(key, contentType); err != nil {
		return err
	}
	if size < 0 || size > MaxPutBytes {
		return fmt.Errorf("put %q: size %d is outside 0..%d", key, size, int64(MaxPutBytes))
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          &exactReader{r: r, left: size},
		ContentLength: aws.Int64(size),
		ContentType:   aws.String(contentType),
	}, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	if err != nil {
		return s3Error("put", key, err)
	}
	return nil
}

// Delete implements Store. S3 already answers success for a missing key;
// the not-found check covers servers that do not.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil && !errors.Is(s3Error("delete", key, err), ErrNotFound) {
		return s3Error("delete", key, err)
	}
	return nil
}

// Move implements Store: CopyObject (server side, no bytes pass through
// here; one copy takes objects up to 5 GiB, which is MaxPutBytes), then
// DeleteObject. A crash between the two leaves both objects, and the rerun
// copies again (the same bytes) and deletes.
func (s *S3) Move(ctx context.Context, src, dst string) error {
	if err := checkMove(src, dst); err != nil {
		return err
	}
	_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:     aws.String(s.bucket),
		Key:        aws.String(dst),
		CopySource: aws.String(s.bucket + "/" + src), // keys need no escaping
	})
	if err != nil {
		if err = s3Error("move", src, err); !errors.Is(err, ErrNotFound) {
			return err
		}
		// No object under src: moved already, or never stored.
		if _, err := s.Stat(ctx, dst); err != nil {
			return fmt.Errorf("move %q: %w", src, err)
		}
		return nil
	}
	return s.Delete(ctx, src)
}

// s3Error maps a missing object to ErrNotFound. HEAD responses have no body,
// so there the code is the bare "NotFound"; GET says "NoSuchKey". A missing
// bucket is NoSuchBucket and stays an internal error (except on HEAD, where
// S3 cannot tell the two apart).
func s3Error(op, key string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return fmt.Errorf("%s %q: %w", op, key, ErrNotFound)
		}
	}
	return fmt.Errorf("s3 %s %q: %w", op, key, err)
}
