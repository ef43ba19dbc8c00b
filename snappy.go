package nsqpub

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/bits"
)

// This file implements the snappy block format and the snappy framing
// format (as used by nsqd's "snappy" feature negotiation) with nothing but
// the standard library.
//
// Block format: a little-endian base-128 varint holding the uncompressed
// length, followed by a sequence of elements. The low two bits of each
// element's first byte (its tag) select the kind:
//
//	00 literal: length-1 in the upper six bits when below 60, otherwise
//	   60..63 say that 1..4 little-endian bytes holding length-1 follow;
//	   the literal bytes come next.
//	01 copy with a 1-byte offset: length-4 in bits 2..4, offset bits 8..10
//	   in bits 5..7, offset bits 0..7 in the next byte.
//	10 copy with a 2-byte offset: length-1 in the upper six bits, then a
//	   little-endian uint16 offset.
//	11 copy with a 4-byte offset: length-1 in the upper six bits, then a
//	   little-endian uint32 offset.
//
// Framing format: a stream identifier chunk followed by chunks of
// [type][3-byte little-endian length][payload], where the payload of data
// chunks starts with the masked CRC-32C of the uncompressed bytes.

const (
	snappyTagLiteral = 0x00
	snappyTagCopy1   = 0x01
	snappyTagCopy2   = 0x02
	snappyTagCopy4   = 0x03

	// snappyMaxBlockSize is the largest number of uncompressed bytes in one
	// framing chunk. The block encoder also works on fragments of this size
	// so that every copy offset fits in 16 bits.
	snappyMaxBlockSize = 65536

	// snappyMaxEncodedBlockSize is snappyMaxEncodedLen(snappyMaxBlockSize).
	snappyMaxEncodedBlockSize = 32 + snappyMaxBlockSize + snappyMaxBlockSize/6

	// snappyMaxDeclaredLen is the largest uncompressed length the block
	// format can declare.
	snappyMaxDeclaredLen = 1<<32 - 1

	// snappyMinMatchInput is the fragment size below which the encoder does
	// not look for matches and emits a single literal.
	snappyMinMatchInput = 16

	// snappySmallTableInput is the fragment size up to which the encoder
	// uses the small hash table.
	snappySmallTableInput = 4096

	// snappyHashMul is the multiplier of the multiplicative hash of four
	// input bytes (Knuth's golden-ratio constant).
	snappyHashMul = 0x9e3779b1

	snappyChunkCompressed   = 0x00
	snappyChunkUncompressed = 0x01
	snappyChunkPadding      = 0xfe
	snappyChunkStreamID     = 0xff

	// snappyStreamID is the complete stream identifier chunk.
	snappyStreamID = "\xff\x06\x00\x00sNaPpY"

	// snappyChecksumSize is the size of the masked CRC that starts the
	// payload of compressed and uncompressed chunks.
	snappyChecksumSize = 4

	// snappyMaxChunkPayload is the largest payload accepted for a
	// compressed chunk (checksum plus worst-case encoding of a full block).
	snappyMaxChunkPayload = snappyChecksumSize + snappyMaxEncodedBlockSize

	// snappyCRCMaskDelta is added to the rotated CRC to mask it.
	snappyCRCMaskDelta = 0xa282ead8
)

var (
	// errSnappyCorrupt reports malformed snappy block or framing data.
	errSnappyCorrupt = errors.New("nsqpub: snappy: corrupt input")
	// errSnappyTooLarge reports a declared or chunk length above the
	// permitted bound.
	errSnappyTooLarge = errors.New("nsqpub: snappy: decoded length exceeds limit")
	// errSnappyChecksum reports a chunk whose CRC does not match its data.
	errSnappyChecksum = errors.New("nsqpub: snappy: checksum mismatch")
	// errSnappyNoStreamID reports a stream that does not start with the
	// stream identifier chunk.
	errSnappyNoStreamID = errors.New("nsqpub: snappy: missing or bad stream identifier")
	// errSnappyUnskippable reports a reserved chunk type that a reader must
	// not skip.
	errSnappyUnskippable = errors.New("nsqpub: snappy: unsupported unskippable chunk type")

	// snappyCRCTable is the CRC-32C (Castagnoli) table used by the framing
	// format; crc32 uses hardware acceleration for it where available.
	snappyCRCTable = crc32.MakeTable(crc32.Castagnoli)
)

// snappyMaxEncodedLen returns an upper bound on the size of the block
// encoding of n input bytes as produced by snappyEncodeBlock.
func snappyMaxEncodedLen(n int) int {
	return 32 + n + n/6
}

// snappyMaskedCRC returns the masked CRC-32C of b as stored in framing
// chunks.
func snappyMaskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, snappyCRCTable)
	return (c>>15 | c<<17) + snappyCRCMaskDelta
}

// snappyEncodeBlock appends the snappy block encoding of src to dst and
// returns the extended slice. dst may be nil; if it has at least
// snappyMaxEncodedLen(len(src)) spare capacity no allocation happens. The
// input is compressed in independent 64 KiB fragments with a hash table of
// four-byte matches that lives on the stack, so only copy-1 and copy-2
// elements are produced. It panics if len(src) exceeds the format limit of
// 2^32-1 bytes.
func snappyEncodeBlock(dst, src []byte) []byte {
	if uint64(len(src)) > snappyMaxDeclaredLen {
		panic("nsqpub: snappy: block too large to encode")
	}
	base := len(dst)
	need := snappyMaxEncodedLen(len(src))
	if cap(dst)-base < need {
		grown := make([]byte, base, base+need)
		copy(grown, dst)
		dst = grown
	}
	out := dst[base : base+need]
	d := binary.PutUvarint(out, uint64(len(src)))
	for len(src) > 0 {
		frag := src
		if len(frag) > snappyMaxBlockSize {
			frag = frag[:snappyMaxBlockSize]
		}
		src = src[len(frag):]
		switch {
		case len(frag) < snappyMinMatchInput:
			d += snappyEmitLiteral(out[d:], frag)
		case len(frag) <= snappySmallTableInput:
			d += snappyEncodeSmall(out[d:], frag)
		default:
			d += snappyEncodeLarge(out[d:], frag)
		}
	}
	return dst[:base+d]
}

// snappyEncodeSmall encodes a fragment of at most snappySmallTableInput
// bytes using a 4 KiB stack table.
func snappyEncodeSmall(dst, src []byte) int {
	var table [1 << 11]uint16
	return snappyEncodeFragment(dst, src, table[:])
}

// snappyEncodeLarge encodes a fragment of at most snappyMaxBlockSize bytes
// using a 32 KiB stack table.
func snappyEncodeLarge(dst, src []byte) int {
	var table [1 << 14]uint16
	return snappyEncodeFragment(dst, src, table[:])
}

// snappyHash4 hashes the four bytes in u to an index below 1<<(32-shift).
func snappyHash4(u uint32, shift uint) uint32 {
	return (u * snappyHashMul) >> shift
}

// snappyLoad32 returns the little-endian uint32 at b[i:].
func snappyLoad32(b []byte, i int) uint32 {
	return binary.LittleEndian.Uint32(b[i : i+4])
}

// snappyEncodeFragment writes the elements encoding src (at most
// snappyMaxBlockSize and at least snappyMinMatchInput bytes) to dst and
// returns the number of bytes written. tab is a zeroed hash table whose
// length is a power of two; it maps hashes of four-byte sequences to their
// most recent position in src. Stale or colliding entries are harmless
// because every candidate is verified before use.
func snappyEncodeFragment(dst, src []byte, tab []uint16) int {
	shift := uint(32 - bits.TrailingZeros(uint(len(tab))))
	mask := uint32(len(tab) - 1)
	last := len(src) - 4 // last position with four readable bytes
	d := 0
	pending := 0 // start of the bytes not yet emitted
	s := 1
	misses := 0
	for s <= last {
		cur := snappyLoad32(src, s)
		h := snappyHash4(cur, shift) & mask
		cand := int(tab[h])
		tab[h] = uint16(s)
		if snappyLoad32(src, cand) != cur {
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
				dst[d] = byte(l-1)<<2 | snappyTagLiteral
				binary.LittleEndian.PutUint64(dst[d+1:d+9], binary.LittleEndian.Uint64(src[pending:pending+8]))
				binary.LittleEndian.PutUint64(dst[d+9:d+17], binary.LittleEndian.Uint64(src[pending+8:pending+16]))
				d += 1 + l
			} else {
				d += snappyEmitLiteral(dst[d:], src[pending:s])
			}
		}
		start := s
		s = snappyMatchEnd(src, cand+4, s+4)
		if off, l := start-cand, s-start; l <= 11 && off < 2048 {
			// The most common case, a short near copy, inline.
			dst[d] = byte(off>>8)<<5 | byte(l-4)<<2 | snappyTagCopy1
			dst[d+1] = byte(off)
			d += 2
		} else {
			d += snappyEmitCopy(dst[d:], off, l)
		}
		pending = s
		// Remember the position just before the cursor so that a repeat
		// starting there can be found on the next probe.
		if p := s - 1; p <= last {
			tab[snappyHash4(snappyLoad32(src, p), shift)&mask] = uint16(p)
		}
	}
	if pending < len(src) {
		d += snappyEmitLiteral(dst[d:], src[pending:])
	}
	return d
}

// snappyMatchEnd returns the end of the match between src[a:] and src[b:]
// (a < b), comparing eight bytes at a time while possible.
func snappyMatchEnd(src []byte, a, b int) int {
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

// snappyEmitLiteral writes a literal element holding lit (non-empty) to dst
// and returns the number of bytes written.
func snappyEmitLiteral(dst, lit []byte) int {
	n := uint32(len(lit) - 1)
	var i int
	switch {
	case n < 60:
		dst[0] = byte(n)<<2 | snappyTagLiteral
		i = 1
	case n < 1<<8:
		dst[0] = 60<<2 | snappyTagLiteral
		dst[1] = byte(n)
		i = 2
	case n < 1<<16:
		dst[0] = 61<<2 | snappyTagLiteral
		dst[1] = byte(n)
		dst[2] = byte(n >> 8)
		i = 3
	case n < 1<<24:
		dst[0] = 62<<2 | snappyTagLiteral
		dst[1] = byte(n)
		dst[2] = byte(n >> 8)
		dst[3] = byte(n >> 16)
		i = 4
	default:
		dst[0] = 63<<2 | snappyTagLiteral
		binary.LittleEndian.PutUint32(dst[1:5], n)
		i = 5
	}
	return i + copy(dst[i:], lit)
}

// snappyEmitCopy writes copy elements reproducing length (at least 4) bytes
// from offset (1..65535) bytes back and returns the number of bytes
// written. Long copies are split into pieces of at most 64 bytes such that
// the final piece is at least 4 bytes long.
func snappyEmitCopy(dst []byte, offset, length int) int {
	i := 0
	for length >= 68 {
		snappyEmitCopy2(dst[i:], offset, 64)
		i += 3
		length -= 64
	}
	if length > 64 {
		snappyEmitCopy2(dst[i:], offset, 60)
		i += 3
		length -= 60
	}
	if length <= 11 && offset < 2048 {
		dst[i] = byte(offset>>8)<<5 | byte(length-4)<<2 | snappyTagCopy1
		dst[i+1] = byte(offset)
		return i + 2
	}
	snappyEmitCopy2(dst[i:], offset, length)
	return i + 3
}

// snappyEmitCopy2 writes one copy-2 element (length 1..64) to dst[:3].
func snappyEmitCopy2(dst []byte, offset, length int) {
	dst[0] = byte(length-1)<<2 | snappyTagCopy2
	dst[1] = byte(offset)
	dst[2] = byte(offset >> 8)
}

// snappyDecodedLen parses the varint that starts a block and returns the
// declared uncompressed length and the varint's size. A varint longer than
// five bytes or above 2^32-1 is reported as corrupt.
func snappyDecodedLen(src []byte) (n uint64, size int, err error) {
	for i := 0; i < 5; i++ {
		if i >= len(src) {
			return 0, 0, errSnappyCorrupt
		}
		b := src[i]
		n |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			if n > snappyMaxDeclaredLen {
				return 0, 0, errSnappyCorrupt
			}
			return n, i + 1, nil
		}
	}
	return 0, 0, errSnappyCorrupt
}

// snappyDecodeBlock appends the decoding of the snappy block src to dst and
// returns the extended slice. It is snappyDecodeBlockLimit with the
// format's own limit of 2^32-1 bytes (or the largest int, if smaller).
func snappyDecodeBlock(dst, src []byte) ([]byte, error) {
	limit := uint64(snappyMaxDeclaredLen)
	if uint64(snappyMaxInt) < limit {
		limit = uint64(snappyMaxInt)
	}
	return snappyDecodeBlockLimit(dst, src, int(limit))
}

// snappyMaxInt is the largest value of type int.
const snappyMaxInt = int(^uint(0) >> 1)

// snappyDecodeBlockLimit appends the decoding of the snappy block src to
// dst and returns the extended slice. A declared length above limit is
// rejected with errSnappyTooLarge before anything is allocated, and so is
// one that src is too short to possibly produce (errSnappyCorrupt). When
// dst lacks spare capacity exactly the declared length is allocated. Any
// malformed input yields an error and the original dst; it never panics.
func snappyDecodeBlockLimit(dst, src []byte, limit int) ([]byte, error) {
	orig := dst
	n64, s, err := snappyDecodedLen(src)
	if err != nil {
		return orig, err
	}
	if limit < 0 || n64 > uint64(limit) {
		return orig, errSnappyTooLarge
	}
	// No element yields more than 64 bytes per 3 input bytes.
	if n64*3 > uint64(len(src)-s)*64 {
		return orig, errSnappyCorrupt
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
		case snappyTagLiteral:
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
					return orig, errSnappyCorrupt
				}
				x = 0
				for i := 0; i < k; i++ {
					x |= uint64(src[s+i]) << (8 * i)
				}
				s += k
			}
			x++
			if x > uint64(len(src)-s) || x > uint64(n-d) {
				return orig, errSnappyCorrupt
			}
			l := int(x)
			copy(out[d:d+l], src[s:s+l])
			d += l
			s += l
			continue
		case snappyTagCopy1:
			if len(src)-s < 2 {
				return orig, errSnappyCorrupt
			}
			length = 4 + int(tag>>2&7)
			offset = int(tag>>5)<<8 | int(src[s+1])
			s += 2
		case snappyTagCopy2:
			if len(src)-s < 3 {
				return orig, errSnappyCorrupt
			}
			length = 1 + int(tag>>2)
			offset = int(binary.LittleEndian.Uint16(src[s+1 : s+3]))
			s += 3
		default: // snappyTagCopy4
			if len(src)-s < 5 {
				return orig, errSnappyCorrupt
			}
			length = 1 + int(tag>>2)
			o := binary.LittleEndian.Uint32(src[s+1 : s+5])
			if uint64(o) > uint64(d) {
				return orig, errSnappyCorrupt
			}
			offset = int(o)
			s += 5
		}
		if offset <= 0 || offset > d || length > n-d {
			return orig, errSnappyCorrupt
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
		return orig, errSnappyCorrupt
	}
	return dst[:base+n], nil
}

// snappyReader decodes a snappy framing-format stream read from an
// underlying reader. It holds at most one chunk in memory: a raw chunk
// buffer of at most snappyMaxChunkPayload bytes and a decoded buffer of at
// most snappyMaxBlockSize bytes, both reused across chunks. It is not safe
// for concurrent use.
type snappyReader struct {
	r       io.Reader
	err     error // sticky error, io.EOF at a clean end of stream
	sawID   bool  // the stream identifier has been read
	raw     []byte
	data    []byte // decoded bytes of the current chunk
	pos     int    // bytes of data already returned
	scratch [10]byte
}

// newSnappyReader returns a snappyReader that decodes the framing-format
// stream read from r.
func newSnappyReader(r io.Reader) *snappyReader {
	return &snappyReader{r: r}
}

// Read implements io.Reader. It returns buffered decoded bytes if there are
// any, and otherwise reads chunks until one yields data, so it never waits
// for more than one data chunk before returning.
func (z *snappyReader) Read(p []byte) (int, error) {
	for z.pos >= len(z.data) {
		if z.err != nil {
			return 0, z.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		z.err = z.nextChunk()
	}
	n := copy(p, z.data[z.pos:])
	z.pos += n
	return n, nil
}

// readFull fills b from the underlying reader; running out of input here
// means a chunk was truncated.
func (z *snappyReader) readFull(b []byte) error {
	_, err := io.ReadFull(z.r, b)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// snappyReuse returns buf resliced to length n, replacing it by a larger
// buffer when its capacity is short. Capacity grows geometrically from
// 4 KiB and never beyond limit (n must not exceed limit), so streams of
// small chunks stay small and large ones stop reallocating quickly.
func snappyReuse(buf []byte, n, limit int) []byte {
	if cap(buf) < n {
		buf = make([]byte, min(max(n, 2*cap(buf), 4096), limit))
	}
	return buf[:n]
}

// rawBuf returns a raw buffer of length n (at most snappyMaxChunkPayload),
// reusing the previous one when it is large enough.
func (z *snappyReader) rawBuf(n int) []byte {
	z.raw = snappyReuse(z.raw, n, snappyMaxChunkPayload)
	return z.raw
}

// dataBuf returns the decoded-data buffer with room for n (at most
// snappyMaxBlockSize) bytes and length zero. z.data itself stays empty
// until the caller has verified the chunk.
func (z *snappyReader) dataBuf(n int) []byte {
	z.data = snappyReuse(z.data, n, snappyMaxBlockSize)[:0]
	return z.data
}

// nextChunk reads and processes one chunk, leaving its decoded bytes (if
// any) in z.data. It returns io.EOF when the stream ends at a chunk
// boundary.
func (z *snappyReader) nextChunk() error {
	z.data = z.data[:0]
	z.pos = 0
	hdr := z.scratch[:4]
	if _, err := io.ReadFull(z.r, hdr); err != nil {
		return err // io.EOF at a boundary, io.ErrUnexpectedEOF if partial
	}
	typ := hdr[0]
	n := int(hdr[1]) | int(hdr[2])<<8 | int(hdr[3])<<16
	if !z.sawID && typ != snappyChunkStreamID {
		return errSnappyNoStreamID
	}
	switch {
	case typ == snappyChunkStreamID:
		if n != len(snappyStreamID)-4 {
			return errSnappyNoStreamID
		}
		id := z.scratch[4:]
		if err := z.readFull(id); err != nil {
			return err
		}
		if string(id) != snappyStreamID[4:] {
			return errSnappyNoStreamID
		}
		z.sawID = true
		return nil

	case typ == snappyChunkCompressed:
		if n < snappyChecksumSize {
			return errSnappyCorrupt
		}
		if n > snappyMaxChunkPayload {
			return errSnappyTooLarge
		}
		raw := z.rawBuf(n)
		if err := z.readFull(raw); err != nil {
			return err
		}
		want := binary.LittleEndian.Uint32(raw[:4])
		size, _, err := snappyDecodedLen(raw[4:])
		if err != nil {
			return err
		}
		if size > snappyMaxBlockSize {
			return errSnappyTooLarge
		}
		data, err := snappyDecodeBlockLimit(z.dataBuf(int(size)), raw[4:], snappyMaxBlockSize)
		if err != nil {
			return err
		}
		if snappyMaskedCRC(data) != want {
			return errSnappyChecksum
		}
		z.data = data
		return nil

	case typ == snappyChunkUncompressed:
		if n < snappyChecksumSize {
			return errSnappyCorrupt
		}
		if n > snappyChecksumSize+snappyMaxBlockSize {
			return errSnappyTooLarge
		}
		sum := z.scratch[:4]
		if err := z.readFull(sum); err != nil {
			return err
		}
		want := binary.LittleEndian.Uint32(sum)
		data := z.dataBuf(n - snappyChecksumSize)[:n-snappyChecksumSize]
		if err := z.readFull(data); err != nil {
			return err
		}
		if snappyMaskedCRC(data) != want {
			return errSnappyChecksum
		}
		z.data = data
		return nil

	case typ == snappyChunkPadding || typ >= 0x80:
		for n > 0 {
			k := min(n, snappyMaxChunkPayload)
			if err := z.readFull(z.rawBuf(k)); err != nil {
				return err
			}
			n -= k
		}
		return nil

	default: // 0x02..0x7f
		return errSnappyUnskippable
	}
}

// snappyFlusher is implemented by writers, such as *bufio.Writer, that
// buffer data and can push it on.
type snappyFlusher interface {
	Flush() error
}

// snappyWriter encodes data in the snappy framing format. Writes are
// buffered until snappyMaxBlockSize bytes are pending or Flush is called;
// each chunk is then compressed, or stored uncompressed when compression
// saves less than 12.5%, and written with a single Write call. After the
// first error every method returns that error. It is not safe for
// concurrent use.
type snappyWriter struct {
	w       io.Writer
	err     error
	wroteID bool   // the stream identifier has been emitted
	buf     []byte // pending uncompressed bytes, at most snappyMaxBlockSize
	out     []byte // staging area for the encoded chunk, reused
}

// newSnappyWriter returns a snappyWriter that writes the framing-format
// encoding of its input to w.
func newSnappyWriter(w io.Writer) *snappyWriter {
	return &snappyWriter{w: w}
}

// Write implements io.Writer. It buffers p and emits a chunk for every
// snappyMaxBlockSize bytes accumulated; whole blocks of a large p are
// encoded straight from p without being copied into the buffer.
func (z *snappyWriter) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	total := 0
	for len(p) > 0 {
		if len(z.buf) == 0 && len(p) >= snappyMaxBlockSize {
			if err := z.writeChunk(p[:snappyMaxBlockSize]); err != nil {
				return total, err
			}
			p = p[snappyMaxBlockSize:]
			total += snappyMaxBlockSize
			continue
		}
		k := min(snappyMaxBlockSize-len(z.buf), len(p))
		z.buf = append(z.buf, p[:k]...)
		p = p[k:]
		total += k
		if len(z.buf) == snappyMaxBlockSize {
			err := z.writeChunk(z.buf)
			z.buf = z.buf[:0]
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// Flush emits the buffered bytes as a chunk (or, if nothing was ever
// written, just the stream identifier) and then calls Flush on the
// underlying writer if it has such a method.
func (z *snappyWriter) Flush() error {
	if z.err != nil {
		return z.err
	}
	if len(z.buf) > 0 {
		err := z.writeChunk(z.buf)
		z.buf = z.buf[:0]
		if err != nil {
			return err
		}
	} else if !z.wroteID {
		z.wroteID = true
		if _, err := io.WriteString(z.w, snappyStreamID); err != nil {
			z.err = err
			return err
		}
	}
	if f, ok := z.w.(snappyFlusher); ok {
		if err := f.Flush(); err != nil {
			z.err = err
			return err
		}
	}
	return nil
}

// writeChunk encodes data (1..snappyMaxBlockSize bytes) as one chunk,
// preceded by the stream identifier if it has not been written yet, and
// writes it to the underlying writer.
func (z *snappyWriter) writeChunk(data []byte) error {
	out := z.out[:0]
	if !z.wroteID {
		out = append(out, snappyStreamID...)
		z.wroteID = true
	}
	h := len(out)
	out = append(out, 0, 0, 0, 0, 0, 0, 0, 0)
	out = snappyEncodeBlock(out, data)
	typ := byte(snappyChunkCompressed)
	if len(out)-h-8 >= len(data)-len(data)/8 {
		typ = snappyChunkUncompressed
		out = append(out[:h+8], data...)
	}
	n := len(out) - h - 4
	out[h] = typ
	out[h+1] = byte(n)
	out[h+2] = byte(n >> 8)
	out[h+3] = byte(n >> 16)
	binary.LittleEndian.PutUint32(out[h+4:h+8], snappyMaskedCRC(data))
	z.out = out
	if _, err := z.w.Write(out); err != nil {
		z.err = err
		return err
	}
	return nil
}
