package snappy

import (
	"encoding/binary"
	"math/bits"
)

// Tuning of the block encoder.
const (
	// minMatchInput is the fragment size below which the encoder does not
	// look for matches and emits a single literal.
	minMatchInput = 16

	// smallTableInput is the fragment size up to which the encoder uses
	// the small hash table.
	smallTableInput = 4096

	// hashMul is the multiplier of the multiplicative hash of four input
	// bytes (Knuth's golden-ratio constant).
	hashMul = 0x9e3779b1
)

// maxEncodedLen returns an upper bound on the size of the block encoding of
// n input bytes as produced by EncodeBlock.
func maxEncodedLen(n int) int {
	return 32 + n + n/6
}

// EncodeBlock appends the snappy block encoding of src to dst and returns
// the extended slice. dst may be nil; if it has at least 32+n+n/6 spare
// capacity for n = len(src) no allocation happens. The input is compressed
// in independent 64 KiB fragments with a hash table of four-byte matches
// that lives on the stack, so only copy-1 and copy-2 elements are
// produced. It panics if len(src) exceeds the format limit of 2^32-1
// bytes.
func EncodeBlock(dst, src []byte) []byte {
	if uint64(len(src)) > maxDeclaredLen {
		panic("snappy: block too large to encode")
	}
	base := len(dst)
	need := maxEncodedLen(len(src))
	if cap(dst)-base < need {
		grown := make([]byte, base, base+need)
		copy(grown, dst)
		dst = grown
	}
	out := dst[base : base+need]
	d := binary.PutUvarint(out, uint64(len(src)))
	for len(src) > 0 {
		frag := src
		if len(frag) > maxBlockSize {
			frag = frag[:maxBlockSize]
		}
		src = src[len(frag):]
		switch {
		case len(frag) < minMatchInput:
			d += emitLiteral(out[d:], frag)
		case len(frag) <= smallTableInput:
			d += encodeSmall(out[d:], frag)
		default:
			d += encodeLarge(out[d:], frag)
		}
	}
	return dst[:base+d]
}

// encodeSmall encodes a fragment of at most smallTableInput bytes using a
// 4 KiB stack table.
func encodeSmall(dst, src []byte) int {
	var table [1 << 11]uint16
	return encodeFragment(dst, src, table[:])
}

// encodeLarge encodes a fragment of at most maxBlockSize bytes using a
// 32 KiB stack table.
func encodeLarge(dst, src []byte) int {
	var table [1 << 14]uint16
	return encodeFragment(dst, src, table[:])
}

// hash4 hashes the four bytes in u to an index below 1<<(32-shift).
func hash4(u uint32, shift uint) uint32 {
	return (u * hashMul) >> shift
}

// load32 returns the little-endian uint32 at b[i:].
func load32(b []byte, i int) uint32 {
	return binary.LittleEndian.Uint32(b[i : i+4])
}

// encodeFragment writes the elements encoding src (at most maxBlockSize and
// at least minMatchInput bytes) to dst and returns the number of bytes
// written. tab is a zeroed hash table whose length is a power of two; it
// maps hashes of four-byte sequences to their most recent position in
// src. Stale or colliding entries are harmless because every candidate is
// verified before use.
func encodeFragment(dst, src []byte, tab []uint16) int {
	shift := uint(32 - bits.TrailingZeros(uint(len(tab))))
	mask := uint32(len(tab) - 1)
	last := len(src) - 4 // last position with four readable bytes
	d := 0
	pending := 0 // start of the bytes not yet emitted
	s := 1
	misses := 0
	for s <= last {
		cur := load32(src, s)
		h := hash4(cur, shift) & mask
		cand := int(tab[h])
		tab[h] = uint16(s)
		if load32(src, cand) != cur {
			// Step further the longer we go without a match, so that
			// incompressible input is skimmed quickly.
			misses++
			s += 1 + misses>>5
			continue
		}
		misses = 0
		// The candidate always precedes s. Grow the match backwards over
		// bytes that would otherwise be emitted as literals.
		for cand > 0 && s > pending && src[cand-1] == src[s-1] {
			cand--
			s--
		}
		if l := s - pending; l > 0 {
			if l <= 16 && len(src)-pending >= 16 && len(dst)-d >= 17 {
				// Fast path for a short literal: tag plus two words;
				// whatever lands beyond it is overwritten later.
				dst[d] = byte(l-1)<<2 | tagLiteral
				binary.LittleEndian.PutUint64(dst[d+1:d+9], binary.LittleEndian.Uint64(src[pending:pending+8]))
				binary.LittleEndian.PutUint64(dst[d+9:d+17], binary.LittleEndian.Uint64(src[pending+8:pending+16]))
				d += 1 + l
			} else {
				d += emitLiteral(dst[d:], src[pending:s])
			}
		}
		start := s
		s = matchEnd(src, cand+4, s+4)
		if off, l := start-cand, s-start; l <= 11 && off < 2048 {
			// The most common case, a short near copy, inline.
			dst[d] = byte(off>>8)<<5 | byte(l-4)<<2 | tagCopy1
			dst[d+1] = byte(off)
			d += 2
		} else {
			d += emitCopy(dst[d:], off, l)
		}
		pending = s
		// Remember the position just before the cursor so that a repeat
		// starting there can be found on the next probe.
		if p := s - 1; p <= last {
			tab[hash4(load32(src, p), shift)&mask] = uint16(p)
		}
	}
	if pending < len(src) {
		d += emitLiteral(dst[d:], src[pending:])
	}
	return d
}

// matchEnd returns the end of the match between src[a:] and src[b:]
// (a < b), comparing eight bytes at a time while possible.
func matchEnd(src []byte, a, b int) int {
	for b+8 <= len(src) {
		x := binary.LittleEndian.Uint64(src[a:a+8]) ^ binary.LittleEndian.Uint64(src[b:b+8])
		if x != 0 {
			return b + bits.TrailingZeros64(x)>>3
		}
		a += 8
		b += 8
	}
	for b < len(src) && src[a] == src[b] {
		a++
		b++
	}
	return b
}

// emitLiteral writes a literal element holding lit (non-empty) to dst and
// returns the number of bytes written.
func emitLiteral(dst, lit []byte) int {
	n := uint32(len(lit) - 1)
	var i int
	switch {
	case n < 60:
		dst[0] = byte(n)<<2 | tagLiteral
		i = 1
	case n < 1<<8:
		dst[0] = 60<<2 | tagLiteral
		dst[1] = byte(n)
		i = 2
	case n < 1<<16:
		dst[0] = 61<<2 | tagLiteral
		dst[1] = byte(n)
		dst[2] = byte(n >> 8)
		i = 3
	case n < 1<<24:
		dst[0] = 62<<2 | tagLiteral
		dst[1] = byte(n)
		dst[2] = byte(n >> 8)
		dst[3] = byte(n >> 16)
		i = 4
	default:
		dst[0] = 63<<2 | tagLiteral
		binary.LittleEndian.PutUint32(dst[1:5], n)
		i = 5
	}
	return i + copy(dst[i:], lit)
}

// emitCopy writes copy elements reproducing length (at least 4) bytes from
// offset (1..65535) bytes back and returns the number of bytes written.
// Long copies are split into pieces of at most 64 bytes such that the
// final piece is at least 4 bytes long.
func emitCopy(dst []byte, offset, length int) int {
	i := 0
	for length >= 68 {
		emitCopy2(dst[i:], offset, 64)
		i += 3
		length -= 64
	}
	if length > 64 {
		emitCopy2(dst[i:], offset, 60)
		i += 3
		length -= 60
	}
	if length <= 11 && offset < 2048 {
		dst[i] = byte(offset>>8)<<5 | byte(length-4)<<2 | tagCopy1
		dst[i+1] = byte(offset)
		return i + 2
	}
	emitCopy2(dst[i:], offset, length)
	return i + 3
}

// emitCopy2 writes one copy-2 element (length 1..64) to dst[:3].
func emitCopy2(dst []byte, offset, length int) {
	dst[0] = byte(length-1)<<2 | tagCopy2
	dst[1] = byte(offset)
	dst[2] = byte(offset >> 8)
}
