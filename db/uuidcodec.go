package db

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// registerTypes runs on every new pooled connection (pgxpool's
// AfterConnect). It teaches the connection's type map to move
// github.com/google/uuid values as PostgreSQL uuid directly.
//
// Without it pgx knows uuid.UUID only as a driver.Valuer and sql.Scanner:
// each parameter is formatted to its 36-character string and parsed back
// by pgtype, and each scanned uuid is formatted by pgtype and parsed by
// uuid.Scan. A []uuid.UUID parameter pays that once per element (the
// for-you page sends 60 ids; 15 % of the api's CPU in the load profile).
func registerTypes(_ context.Context, conn *pgx.Conn) error {
	RegisterUUIDType(conn.TypeMap())
	return nil
}

// RegisterUUIDType replaces the uuid and uuid[] types of m with ones whose
// codec encodes and scans uuid.UUID (and *uuid.UUID, []uuid.UUID) as the
// 16 bytes of the binary format. Other Go types (pgtype.UUID, [16]byte,
// strings) keep pgtype's behaviour.
func RegisterUUIDType(m *pgtype.Map) {
	elem := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	m.RegisterType(elem)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: elem}})
	// For parameters whose type the server did not describe (simple protocol).
	m.RegisterDefaultPgType(uuid.UUID{}, "uuid")
	m.RegisterDefaultPgType([]uuid.UUID(nil), "_uuid")
}

// uuidCodec is pgtype.UUIDCodec plus plans for google/uuid.
type uuidCodec struct{ pgtype.UUIDCodec }

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	switch value.(type) {
	case uuid.UUID, *uuid.UUID:
		if format == pgtype.BinaryFormatCode {
			return encodeUUIDBinary{}
		}
		return encodeUUIDText{}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok {
		if format == pgtype.BinaryFormatCode {
			return scanUUIDBinary{}
		}
		return scanUUIDText{}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

// uuidOf returns the value to encode, and false for a nil *uuid.UUID (NULL).
func uuidOf(value any) (uuid.UUID, bool) {
	switch v := value.(type) {
	case uuid.UUID:
		return v, true
	case *uuid.UUID:
		if v == nil {
			return uuid.Nil, false
		}
		return *v, true
	}
	return uuid.Nil, false
}

type encodeUUIDBinary struct{}

func (encodeUUIDBinary) Encode(value any, buf []byte) ([]byte, error) {
	u, ok := uuidOf(value)
	if !ok {
		return nil, nil
	}
	return append(buf, u[:]...), nil
}

type encodeUUIDText struct{}

func (encodeUUIDText) Encode(value any, buf []byte) ([]byte, error) {
	u, ok := uuidOf(value)
	if !ok {
		return nil, nil
	}
	var s [36]byte
	hexEncodeUUID(s[:], u)
	return append(buf, s[:]...), nil
}

// hexEncodeUUID writes the canonical 8-4-4-4-12 form of u into dst.
func hexEncodeUUID(dst []byte, u uuid.UUID) {
	const digits = "0123456789abcdef"
	j := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst[j] = '-'
			j++
		}
		dst[j], dst[j+1] = digits[b>>4], digits[b&0x0f]
		j += 2
	}
}

// NULL scanned into a plain uuid.UUID leaves the zero uuid, as uuid.Scan
// did before this codec; nullable columns scan into **uuid.UUID (sqlc's
// pointer override), which pgx sets to nil.

type scanUUIDBinary struct{}

func (scanUUIDBinary) Scan(src []byte, target any) error {
	dst := target.(*uuid.UUID)
	if src == nil {
		*dst = uuid.Nil
		return nil
	}
	if len(src) != 16 {
		return fmt.Errorf("invalid length for uuid: %d", len(src))
	}
	copy(dst[:], src)
	return nil
}

type scanUUIDText struct{}

func (scanUUIDText) Scan(src []byte, target any) error {
	dst := target.(*uuid.UUID)
	if src == nil {
		*dst = uuid.Nil
		return nil
	}
	u, err := uuid.ParseBytes(src)
	if err != nil {
		return err
	}
	*dst = u
	return nil
}
