package db_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// TestUUIDCodecRoundTrip sends google/uuid values, pointers and slices
// through a pool from db.Open in both protocols (the extended one, binary,
// and the simple one, text) and reads them back, NULLs included, and checks
// that the server saw the same uuids as their text form.
func TestUUIDCodecRoundTrip(t *testing.T) {
	pool, _ := dbtest.NewDB(t)
	ctx := context.Background()
	a, b := db.NewID(), uuid.MustParse("00112233-4455-6677-8899-aabbccddeeff")
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, oid := range []uint32{pgtype.UUIDOID, pgtype.UUIDArrayOID} {
		typ, _ := conn.Conn().TypeMap().TypeForOID(oid)
		codec := typ.Codec
		if ac, ok := codec.(*pgtype.ArrayCodec); ok {
			codec = ac.ElementType.Codec
		}
		if got := fmt.Sprintf("%T", codec); !strings.Contains(got, "db.uuidCodec") {
			t.Errorf("oid %d: codec %s, want db.Open's uuid codec (AfterConnect not run?)", oid, got)
		}
	}
	conn.Release()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			var (
				gotA     uuid.UUID
				gotText  string
				gotNil   *uuid.UUID
				gotPtr   *uuid.UUID
				gotSlice []uuid.UUID
				gotNull  = a // NULL into a plain uuid leaves the zero uuid
			)
			var nilPtr *uuid.UUID
			err := pool.QueryRow(ctx, `SELECT $1::uuid, $1::uuid::text, $2::uuid, $3::uuid, $4::uuid[], NULL::uuid`,
				mode, a, nilPtr, &b, []uuid.UUID{a, b, a}).Scan(&gotA, &gotText, &gotNil, &gotPtr, &gotSlice, &gotNull)
			if err != nil {
				t.Fatal(err)
			}
			if gotA != a || gotText != a.String() {
				t.Errorf("uuid: got %v (text %q), want %v", gotA, gotText, a)
			}
			if gotNil != nil {
				t.Errorf("nil *uuid.UUID: got %v, want NULL", *gotNil)
			}
			if gotPtr == nil || *gotPtr != b {
				t.Errorf("*uuid.UUID: got %v, want %v", gotPtr, b)
			}
			if len(gotSlice) != 3 || gotSlice[0] != a || gotSlice[1] != b || gotSlice[2] != a {
				t.Errorf("[]uuid.UUID: got %v", gotSlice)
			}
			if gotNull != uuid.Nil {
				t.Errorf("NULL into uuid.UUID: got %v, want the zero uuid", gotNull)
			}
			var found bool
			if err := pool.QueryRow(ctx, `SELECT $1::uuid = ANY($2::uuid[])`, mode, b, []uuid.UUID{a, b}).Scan(&found); err != nil || !found {
				t.Errorf("= ANY: %v, %v", found, err)
			}
		})
	}
}

// TestUUIDCodecRejectsBadInput: a malformed uuid from the server side is an
// error, not a silent zero.
func TestUUIDCodecRejectsBadInput(t *testing.T) {
	m := pgtype.NewMap()
	db.RegisterUUIDType(m)
	var u uuid.UUID
	if err := m.Scan(pgtype.UUIDOID, pgtype.BinaryFormatCode, []byte{1, 2, 3}, &u); err == nil {
		t.Error("a 3-byte binary uuid scanned without error")
	}
	if err := m.Scan(pgtype.UUIDOID, pgtype.TextFormatCode, []byte("not-a-uuid"), &u); err == nil {
		t.Error("a malformed text uuid scanned without error")
	}
	if err := m.Scan(pgtype.UUIDOID, pgtype.TextFormatCode, []byte("00112233-4455-6677-8899-aabbccddeeff"), &u); err != nil || u.String() != "00112233-4455-6677-8899-aabbccddeeff" {
		t.Errorf("text uuid: %v, %v", u, err)
	}
}

func sixtyIDs() []uuid.UUID {
	ids := make([]uuid.UUID, 60)
	for i := range ids {
		ids[i] = db.NewID()
	}
	return ids
}

// BenchmarkUUIDSliceEncode encodes the for-you page's parameter, 60 ids as
// uuid[] in the binary format, with pgx's default type map (each element
// through uuid.UUID.Value(), a string parsed again) and with the map
// db.Open's connections get (RegisterUUIDType). Results: docs/benchmarks.md
// ("Hot rows").
func BenchmarkUUIDSliceEncode(b *testing.B) {
	ids := sixtyIDs()
	plain, codec := pgtype.NewMap(), pgtype.NewMap()
	db.RegisterUUIDType(codec)
	for _, c := range []struct {
		name string
		m    *pgtype.Map
	}{{"valuer", plain}, {"codec", codec}} {
		b.Run(c.name, func(b *testing.B) {
			buf := make([]byte, 0, 2048)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = c.m.Encode(pgtype.UUIDArrayOID, pgtype.BinaryFormatCode, ids, buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVideosVisibleByIDs runs the for-you page's video statement for
// 60 ids on a local database, through a plain pgxpool (the old encoding)
// and through db.Open's pool (the codec), in turn in the same run.
func BenchmarkVideosVisibleByIDs(b *testing.B) {
	ctx := context.Background()
	codecPool, url := dbtest.NewDB(b)
	store := db.NewStore(codecPool)
	owner := dbtest.CreateUser(b, store, dbtest.UserOpts{})
	viewer := dbtest.CreateUser(b, store, dbtest.UserOpts{})
	ids := make([]uuid.UUID, 60)
	for i := range ids {
		ids[i] = dbtest.Video(b, store, dbtest.VideoOpts{Owner: owner.ID}).ID
	}
	plainPool, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(plainPool.Close)
	for _, c := range []struct {
		name string
		pool *pgxpool.Pool
	}{{"valuer", plainPool}, {"codec", codecPool}} {
		b.Run(c.name, func(b *testing.B) {
			q := db.New(c.pool)
			b.ReportAllocs()
			for b.Loop() {
				rows, err := q.VideosVisibleByIDs(ctx, db.VideosVisibleByIDsParams{IDs: ids, ViewerID: &viewer.ID})
				if err != nil || len(rows) != len(ids) {
					b.Fatalf("%d rows, %v", len(rows), err)
				}
			}
		})
	}
}
