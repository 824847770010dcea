package api

import (
	"strconv"
	"testing"
	"time"
)

// TestMediaCache: a URL is served only for the expiry it was rendered for;
// a later expiry empties the cache, an earlier one is not stored, and the
// cache starts over at its bound instead of growing.
func TestMediaCache(t *testing.T) {
	var c mediaCache
	hour := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	if _, ok := c.get("a", hour); ok {
		t.Fatal("empty cache answered")
	}
	c.put("a", hour, "url-a-17")
	if u, ok := c.get("a", hour); !ok || u != "url-a-17" {
		t.Fatalf("get a = %q, %v", u, ok)
	}
	if _, ok := c.get("a", hour.Add(time.Hour)); ok {
		t.Fatal("a URL was served for another expiry")
	}
	c.put("b", hour.Add(-time.Hour), "url-b-16") // a request that read the clock before the hour turned
	if _, ok := c.get("b", hour.Add(-time.Hour)); ok {
		t.Fatal("an earlier expiry was stored")
	}
	if _, ok := c.get("a", hour); !ok {
		t.Fatal("an earlier expiry emptied the cache")
	}
	c.put("b", hour.Add(time.Hour), "url-b-18")
	if _, ok := c.get("a", hour); ok {
		t.Fatal("a later expiry kept the old URLs")
	}
	if u, ok := c.get("b", hour.Add(time.Hour)); !ok || u != "url-b-18" {
		t.Fatalf("get b = %q, %v", u, ok)
	}
	next := hour.Add(time.Hour)
	for i := range mediaURLCacheMax + 10 {
		c.put(strconv.Itoa(i), next, "u")
	}
	if n := len(c.urls); n > mediaURLCacheMax {
		t.Fatalf("cache holds %d URLs, bound %d", n, mediaURLCacheMax)
	}
}
