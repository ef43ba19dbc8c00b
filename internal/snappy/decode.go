package snappy

import (
	"encoding/binary"
	"math"
)

// decodedLen parses the varint that starts a block and returns the
// declared uncompressed length and the varint's size. A varint longer than
// five bytes or above 2^32-1 is reported as corrupt.
func decodedLen(src []byte) (n uint64, size int, err error) {
	for i := 0; i < 5; i++ {
		if i >= len(src) {
			return 0, 0, errCorrupt
		}
		b := src[i]
		n |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			if n > maxDeclaredLen {
				return 0, 0, errCorrupt
			}
			return n, i + 1, nil
		}
	}
	return 0, 0, errCorrupt
}

// decodeBlock appends the decoding of the snappy block src to dst and
// returns the extended slice. It is decodeBlockLimit with the format's own
// limit of 2^32-1 bytes (or the largest int, if smaller).
func decodeBlock(dst, src []byte) ([]byte, error) {
	return decodeBlockLimit(dst, src, min(maxDeclaredLen, math.MaxInt))
}

// decodeBlockLimit appends the decoding of the snappy block src to dst and
// returns the extended slice. A declared length above limit is rejected
// with errTooLarge before anything is allocated, and so is one that src is
// too short to possibly produce (errCorrupt). When dst lacks spare
// capacity exactly the declared length is allocated. Any malformed input
// yields an error and the original dst; it never panics.
func decodeBlockLimit(dst, src []byte, limit int) ([]byte, error) {
	orig := dst
	n64, s, err := decodedLen(src)
	if err != nil {
		return orig, err
	}
	if limit < 0 || n64 > uint64(limit) {
		return orig, errTooLarge
	}
	// No element yields more than 64 bytes per 3 input bytes.
	if n64*3 > uint64(len(src)-s)*64 {
		return orig, errCorrupt
	}
	n := int(n64)
	base := len(dst)
	if cap(dst)-base < n {
		grown := make([]byte, base, base+n)
		copy(grown, dst)
		dst = grown
	}
	out := dst[base : base+n]
	d := 0
	for s < len(src) {
		tag := src[s]
		var length, offset int
		switch tag & 3 {
		case tagLiteral:
			x := uint64(tag >> 2)
			if x < 16 && len(src)-s >= 17 && n-d >= 16 {
				// Fast path: a literal of at most 16 bytes with 16 bytes
				// readable and writable is moved as two words; bytes
				// beyond its end are overwritten by later elements.
				l := int(x) + 1
				binary.LittleEndian.PutUint64(out[d:d+8], binary.LittleEndian.Uint64(src[s+1:s+9]))
				binary.LittleEndian.PutUint64(out[d+8:d+16], binary.LittleEndian.Uint64(src[s+9:s+17]))
				d += l
				s += l + 1
				continue
			}
			s++
			if x >= 60 {
				k := int(x) - 59 // 1..4 length bytes follow
				if len(src)-s < k {
					return orig, errCorrupt
				}
				x = 0
				for i := 0; i < k; i++ {
					x |= uint64(src[s+i]) << (8 * i)
				}
				s += k
			}
			x++
			if x > uint64(len(src)-s) || x > uint64(n-d) {
				return orig, errCorrupt
			}
			l := int(x)
			copy(out[d:d+l], src[s:s+l])
			d += l
			s += l
			continue
		case tagCopy1:
			if len(src)-s < 2 {
				return orig, errCorrupt
			}
			length = 4 + int(tag>>2&7)
			offset = int(tag>>5)<<8 | int(src[s+1])
			s += 2
		case tagCopy2:
			if len(src)-s < 3 {
				return orig, errCorrupt
			}
			length = 1 + int(tag>>2)
			offset = int(binary.LittleEndian.Uint16(src[s+1 : s+3]))
			s += 3
		default: // tagCopy4
			if len(src)-s < 5 {
				return orig, errCorrupt
			}
			length = 1 + int(tag>>2)
			o := binary.LittleEndian.Uint32(src[s+1 : s+5])
			if uint64(o) > uint64(d) {
				return orig, errCorrupt
			}
			offset = int(o)
			s += 5
		}
		if offset <= 0 || offset > d || length > n-d {
			return orig, errCorrupt
		}
		if offset >= 8 && n-d-length >= 7 {
			// Fast path: every word read lies before the word written,
			// and the final word may spill over into bytes that later
			// elements overwrite.
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(out[d+i:d+i+8], binary.LittleEndian.Uint64(out[d-offset+i:d-offset+i+8]))
			}
			d += length
			continue
		}
		if offset >= length {
			copy(out[d:d+length], out[d-offset:d])
			d += length
			continue
		}
		// Overlapping copy: out[from:d] repeats with period offset, and
		// its length stays a multiple of offset, so doubling it keeps the
		// pattern intact.
		end := d + length
		from := d - offset
		for d < end {
			d += copy(out[d:end], out[from:d])
		}
	}
	if d != n {
		return orig, errCorrupt
	}
	return dst[:base+n], nil
}
