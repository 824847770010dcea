package api

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
)

// Named parsers for the query parameters single handlers read. Each is pure
// (it reads the request's query and nothing else), answers a value inside
// its documented range or a 422 naming the parameter under "query", and is
// run over any query string by FuzzQueryParams.

// boundedParam reads an optional whole number from 1 to most with
// wholeParam, def when absent.
func boundedParam(c *gin.Context, name string, most, def int) (int, error) {
	n, errs := wholeParam(c, name, most)
	if len(errs) > 0 {
		return 0, lokiz.ValidationError(errs...)
	}
	return cmp.Or(n, def), nil
}

// Bounds of the prefetch's count.
const (
	defaultPrefetchCount = 5
	maxPrefetchCount     = 10
)

// prefetchCount is the feed prefetch's count: 1–10, 5 when absent.
func prefetchCount(c *gin.Context) (int, error) {
	return boundedParam(c, "count", maxPrefetchCount, defaultPrefetchCount)
}

// treeDepth is the glitch tree's depth: 1–10, 3 when absent.
func treeDepth(c *gin.Context) (int, error) {
	return boundedParam(c, "depth", maxTreeDepth, defaultTreeDepth)
}

// glitchSorts are the orders of a video's glitch children.
var glitchSorts = []string{"latest", "popular"}

// glitchSort is the glitch children's sort: latest (when absent) or
// popular. Present but empty is refused, like any other word.
func glitchSort(c *gin.Context) (string, error) {
	sort := c.DefaultQuery("sort", "latest")
	if !slices.Contains(glitchSorts, sort) {
		return "", lokiz.ValidationError(fieldErr("must be latest or popular", "query", "sort"))
	}
	return sort, nil
}

// wordParam reads an optional query parameter that must be one of allowed:
// nil when absent or empty, else the word or a 422 listing the words.
func wordParam(c *gin.Context, name string, allowed []string) (*string, error) {
	var errs []lokiz.FieldError
	v := enumParam(c, name, allowed, &errs)
	if len(errs) > 0 {
		return nil, lokiz.ValidationError(errs...)
	}
	return v, nil
}

// aiJobFilter reads the AI job list's job_type and status filters (each
// optional); both are checked, and one 422 names every bad one.
func aiJobFilter(c *gin.Context) (jobType, status *string, err error) {
	var errs []lokiz.FieldError
	if v := c.Query("job_type"); v != "" {
		if !lokiz.ValidJobType(v) {
			errs = append(errs, fieldErr(oneOf(lokiz.JobTypes), "query", "job_type"))
		}
		jobType = &v
	}
	status = enumParam(c, "status", lokiz.JobStatuses, &errs)
	if len(errs) > 0 {
		return nil, nil, lokiz.ValidationError(errs...)
	}
	return jobType, status, nil
}

// creditTypeParam is the credit ledger's transaction_type filter.
func creditTypeParam(c *gin.Context) (*string, error) {
	return wordParam(c, "transaction_type", lokiz.CreditTypes)
}

// videoStatusParam is the video list's status filter.
func videoStatusParam(c *gin.Context) (*string, error) {
	return wordParam(c, "status", lokiz.VideoStatuses)
}

// uuidParam reads an optional UUID from the query, adding a field error to
// errs when it is not one.
func uuidParam(c *gin.Context, name string, errs *[]lokiz.FieldError) *uuid.UUID {
	v := c.Query(name)
	if v == "" {
		return nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		*errs = append(*errs, fieldErr("must be a UUID", "query", name))
	}
	return &id
}

// Longest admin search texts: a user's (an e-mail address, in bytes) and a
// video's (a caption substring, in characters).
const (
	maxAdminUserQueryBytes  = 254
	maxAdminVideoQueryRunes = 200
)

// adminUserQuery is the admin user list's q, a username or e-mail prefix:
// trimmed, lower-cased, at most 254 bytes, as a LIKE pattern with its
// wildcards escaped; nil when absent or blank.
func adminUserQuery(c *gin.Context, errs *[]lokiz.FieldError) *string {
	v := strings.ToLower(strings.TrimSpace(c.Query("q")))
	if v == "" {
		return nil
	}
	if len(v) > maxAdminUserQueryBytes {
		*errs = append(*errs, fieldErr("must be at most 254 characters", "query", "q"))
	}
	v = likePattern(v)
	return &v
}

// adminVideoQuery is the admin video list's q, a caption or title
// substring: trimmed, at most 200 characters, as a LIKE pattern with its
// wildcards escaped; nil when absent or blank.
func adminVideoQuery(c *gin.Context, errs *[]lokiz.FieldError) *string {
	v := strings.TrimSpace(c.Query("q"))
	if v == "" {
		return nil
	}
	if len([]rune(v)) > maxAdminVideoQueryRunes {
		*errs = append(*errs, fieldErr("must be at most 200 characters", "query", "q"))
	}
	v = likePattern(v)
	return &v
}

// socketSinceParam is the notification socket's since, before the database
// is asked: absent or blank (set false), a seq (a whole number ≥ 0, id nil),
// or a notification id (seq 0), which socketSince turns into its seq.
// Anything else is a 422.
func socketSinceParam(c *gin.Context) (seq int64, id *uuid.UUID, set bool, err error) {
	raw := strings.TrimSpace(c.Query("since"))
	if raw == "" {
		return 0, nil, false, nil
	}
	if n, perr := strconv.ParseInt(raw, 10, 64); perr == nil && n >= 0 {
		return n, nil, true, nil
	}
	u, perr := uuid.Parse(raw)
	if perr != nil {
		return 0, nil, false, lokiz.ValidationError(fieldErr("must be a notification seq (a whole number ≥ 0) or a notification id", "query", "since"))
	}
	return 0, &u, true, nil
}

// socketQueryToken is the access token a browser sends in the socket's
// query (it cannot set headers on a WebSocket), trimmed; "" when none.
func socketQueryToken(c *gin.Context) string {
	return strings.TrimSpace(c.Query("token"))
}

// webhookJobParam is the job id the Replicate webhook's URL names (the
// route adds ?job= when it creates the prediction); ok is false when it is
// absent or not a UUID, which the route answers as "ignored", not an error.
func webhookJobParam(c *gin.Context) (uuid.UUID, bool) {
	id, err := uuid.Parse(c.Query("job"))
	return id, err == nil
}
