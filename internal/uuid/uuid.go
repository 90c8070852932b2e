// Package uuid makes random (version 4) UUIDs for actions that stamp every row with one
// (Segment's messageId, mParticle's source_request_id), cheaply enough for a million rows.
package uuid

import "crypto/rand"

// Source makes random (version 4) UUIDs from crypto/rand, read a few kilobytes at a
// time so that a million rows cost a few hundred reads rather than two million. A Source
// is used by one goroutine (the row loop of one execute); it is not safe for concurrent use.
type Source struct {
	buf [4096]byte
	off int
}

// NewSource returns a Source whose first call reads fresh random bytes.
func NewSource() *Source { return &Source{off: 4096} }

const hexDigits = "0123456789abcdef"

// Append appends a new version 4 UUID in its 36-character text form
// (RFC 9562 section 5.4) to dst and returns the extended slice.
func (u *Source) Append(dst []byte) []byte {
	if u.off+16 > len(u.buf) {
		rand.Read(u.buf[:]) // never fails (Go 1.24+): it aborts the program instead
		u.off = 0
	}
	var b [16]byte
	copy(b[:], u.buf[u.off:u.off+16])
	u.off += 16
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // variant 10
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

// String returns a new UUID as a string.
func (u *Source) String() string { return string(u.Append(nil)) }
