package api

import (
	"cmp"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// Page sizes of cursor-paged lists (CONTRACT.md §1).
const (
	defaultPageSize = 20
	maxPageSize     = 50
)

// Limits of offset-paged lists (page and page_size: followers, comments,
// the credit ledger, notifications).
const (
	offsetMaxPage     = 100000
	offsetMaxPageSize = 100
)

// The feed queries return at most db.FeedPageMaxRows rows, and a feed asks
// for a page plus one: this does not compile if a page could need more.
const _ = uint(db.FeedPageMaxRows - (maxPageSize + 1))

// cursor is a keyset position: the sort key and the id of the last item
// returned. Clients see it as an opaque string.
type cursor struct {
	At time.Time
	ID uuid.UUID
}

func (c cursor) encode() string {
	raw := c.At.UTC().Format(time.RFC3339Nano) + "|" + c.ID.String()
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeCursor(s string) (cursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, false
	}
	at, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return cursor{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return cursor{}, false
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return cursor{}, false
	}
	return cursor{At: t, ID: u}, true
}

// pageParams are the parsed cursor and page_size query parameters.
type pageParams struct {
	Size   int
	Cursor *cursor
}

// cursorAt and cursorID are the nullable keyset parameters of the queries.
func (p pageParams) cursorAt() *time.Time {
	if p.Cursor == nil {
		return nil
	}
	return &p.Cursor.At
}

func (p pageParams) cursorID() *uuid.UUID {
	if p.Cursor == nil {
		return nil
	}
	return &p.Cursor.ID
}

// parsePage reads cursor and page_size; bad values are 422.
func parsePage(c *gin.Context) (pageParams, error) {
	p := pageParams{Size: defaultPageSize}
	size, errs := parsePageSize(c, maxPageSize)
	if size > 0 {
		p.Size = size
	}
	if raw := c.Query("cursor"); raw != "" {
		cur, ok := decodeCursor(raw)
		if !ok {
			errs = append(errs, fieldErr("is not a cursor this API returned", "query", "cursor"))
		} else {
			p.Cursor = &cur
		}
	}
	if len(errs) > 0 {
		return p, lokiz.ValidationError(errs...)
	}
	return p, nil
}

// parsePageSize is the one page_size parser: 0 when absent, an error
// unless a whole number from 1 to most.
func parsePageSize(c *gin.Context, most int) (int, []lokiz.FieldError) {
	return wholeParam(c, "page_size", most)
}

// wholeParam reads query parameter name as a whole number from 1 to most;
// 0 when absent.
func wholeParam(c *gin.Context, name string, most int) (int, []lokiz.FieldError) {
	raw := c.Query(name)
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > most {
		return 0, []lokiz.FieldError{fieldErr("must be a whole number from 1 to "+strconv.Itoa(most), "query", name)}
	}
	return n, nil
}

// offsetPage is the one offset-page parser: page (1–100000, default 1) and
// page_size (1–100, default 20), the style the reference keeps for short
// lists; bad values are 422.
func offsetPage(c *gin.Context) (page, size int, err error) {
	page, errs := wholeParam(c, "page", offsetMaxPage)
	size, sizeErrs := parsePageSize(c, offsetMaxPageSize)
	if errs = append(errs, sizeErrs...); len(errs) > 0 {
		return 0, 0, lokiz.ValidationError(errs...)
	}
	return max(page, 1), cmp.Or(size, defaultPageSize), nil
}

// pageOf trims a result fetched with limit Size+1 to the page and says
// whether more follow; key gives an item's cursor.
func pageOf[T any](items []T, size int, key func(T) cursor) ([]T, *string, bool) {
	if len(items) <= size {
		return items, nil, false
	}
	items = items[:size]
	next := key(items[len(items)-1]).encode()
	return items, &next, true
}

// rankCursor is a keyset position in a list ordered by a number (likes)
// and then the id.
type rankCursor struct {
	Rank int64
	ID   uuid.UUID
}

func (c rankCursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte("r|" + strconv.FormatInt(c.Rank, 10) + "|" + c.ID.String()))
}

func decodeRankCursor(s string) (rankCursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return rankCursor{}, false
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 || parts[0] != "r" {
		return rankCursor{}, false
	}
	n, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return rankCursor{}, false
	}
	id, err := uuid.Parse(parts[2])
	if err != nil {
		return rankCursor{}, false
	}
	return rankCursor{Rank: n, ID: id}, true
}
