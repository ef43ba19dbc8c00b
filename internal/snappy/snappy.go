// Package snappy implements the snappy block format and the snappy framing
// format as NSQ uses them: nsqd's "snappy" feature wraps a connection in a
// framing-format stream in each direction. It needs nothing but the
// standard library. Decoding is bounded by declared lengths: a block or
// chunk that declares more than the permitted size is rejected before
// anything is allocated for it, and the reader holds at most one chunk.
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
package snappy

import (
	"errors"
	"hash/crc32"
)

// Element tags of the block format.
const (
	tagLiteral = 0x00
	tagCopy1   = 0x01
	tagCopy2   = 0x02
	tagCopy4   = 0x03
)

// Chunk types of the framing format. Types 0x02..0x7f are reserved and
// unskippable, 0x80..0xfd are reserved and skippable.
const (
	// ChunkCompressed is the type of a chunk holding a checksum and a
	// block-format encoding.
	ChunkCompressed = 0x00
	// ChunkUncompressed is the type of a chunk holding a checksum and
	// the data as is.
	ChunkUncompressed = 0x01

	chunkPadding  = 0xfe
	chunkStreamID = 0xff

	// StreamID is the complete stream identifier chunk that starts every
	// framing-format stream.
	StreamID = "\xff\x06\x00\x00sNaPpY"
)

// Size limits of both formats.
const (
	// maxBlockSize is the largest number of uncompressed bytes in one
	// framing chunk. The block encoder also works on fragments of this size
	// so that every copy offset fits in 16 bits.
	maxBlockSize = 65536

	// maxEncodedBlockSize is maxEncodedLen(maxBlockSize).
	maxEncodedBlockSize = 32 + maxBlockSize + maxBlockSize/6

	// maxDeclaredLen is the largest uncompressed length the block format
	// can declare.
	maxDeclaredLen = 1<<32 - 1

	// checksumSize is the size of the masked CRC that starts the payload
	// of compressed and uncompressed chunks.
	checksumSize = 4

	// maxChunkPayload is the largest payload accepted for a compressed
	// chunk (checksum plus worst-case encoding of a full block).
	maxChunkPayload = checksumSize + maxEncodedBlockSize
)

// The errors of decoding: malformed data; a declared or chunk length over
// the bound; a chunk whose CRC does not match its data; a stream that does
// not start with the stream identifier; a reserved chunk type that a reader
// must not skip.
var (
	errCorrupt, errTooLarge = errors.New("snappy: corrupt input"), errors.New("snappy: decoded length exceeds limit")
	errChecksum             = errors.New("snappy: checksum mismatch")
	errNoStreamID           = errors.New("snappy: missing or bad stream identifier")
	errUnskippable          = errors.New("snappy: unsupported unskippable chunk type")
)

// crcMaskDelta is added to the rotated CRC to mask it.
const crcMaskDelta = 0xa282ead8

// crcTable is the CRC-32C (Castagnoli) table used by the framing format;
// crc32 uses hardware acceleration for it where available.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// MaskedCRC returns the masked CRC-32C of b as stored in framing chunks.
func MaskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, crcTable)
	return (c>>15 | c<<17) + crcMaskDelta
}
