package snappy

import (
	"encoding/binary"
	"io"
)

// Reader decodes a snappy framing-format stream read from an underlying
// reader. It holds at most one chunk in memory: a raw chunk buffer of at
// most maxChunkPayload bytes and a decoded buffer of at most maxBlockSize
// bytes, both reused across chunks. It is not safe for concurrent use.
type Reader struct {
	r       io.Reader
	err     error // sticky error, io.EOF at a clean end of stream
	sawID   bool  // the stream identifier has been read
	raw     []byte
	data    []byte // decoded bytes of the current chunk
	pos     int    // bytes of data already returned
	scratch [10]byte
}

// NewReader returns a Reader that decodes the framing-format stream read
// from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r}
}

// Read implements io.Reader. It returns buffered decoded bytes if there are
// any, and otherwise reads chunks until one yields data, so it never waits
// for more than one data chunk before returning.
func (z *Reader) Read(p []byte) (int, error) {
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
func (z *Reader) readFull(b []byte) error {
	_, err := io.ReadFull(z.r, b)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// reuse returns buf resliced to length n, replacing it by a larger buffer
// when its capacity is short. Capacity grows geometrically from 4 KiB and
// never beyond limit (n must not exceed limit), so streams of small chunks
// stay small and large ones stop reallocating quickly.
func reuse(buf []byte, n, limit int) []byte {
	if cap(buf) < n {
		buf = make([]byte, min(max(n, 2*cap(buf), 4096), limit))
	}
	return buf[:n]
}

// rawBuf returns a raw buffer of length n (at most maxChunkPayload),
// reusing the previous one when it is large enough.
func (z *Reader) rawBuf(n int) []byte {
	z.raw = reuse(z.raw, n, maxChunkPayload)
	return z.raw
}

// dataBuf returns the decoded-data buffer with room for n (at most
// maxBlockSize) bytes and length zero. z.data itself stays empty until the
// caller has verified the chunk.
func (z *Reader) dataBuf(n int) []byte {
	z.data = reuse(z.data, n, maxBlockSize)[:0]
	return z.data
}

// nextChunk reads and processes one chunk, leaving its decoded bytes (if
// any) in z.data. It returns io.EOF when the stream ends at a chunk
// boundary.
func (z *Reader) nextChunk() error {
	z.data = z.data[:0]
	z.pos = 0
	hdr := z.scratch[:4]
	if _, err := io.ReadFull(z.r, hdr); err != nil {
		return err // io.EOF at a boundary, io.ErrUnexpectedEOF if partial
	}
	typ := hdr[0]
	n := int(hdr[1]) | int(hdr[2])<<8 | int(hdr[3])<<16
	if !z.sawID && typ != chunkStreamID {
		return errNoStreamID
	}
	switch {
	case typ == chunkStreamID:
		return z.readStreamID(n)
	case typ == ChunkCompressed:
		return z.readCompressed(n)
	case typ == ChunkUncompressed:
		return z.readUncompressed(n)
	case typ == chunkPadding || typ >= 0x80:
		return z.skipChunk(n)
	default: // 0x02..0x7f
		return errUnskippable
	}
}

// readStreamID checks the body of a stream identifier chunk of n bytes.
func (z *Reader) readStreamID(n int) error {
	if n != len(StreamID)-4 {
		return errNoStreamID
	}
	id := z.scratch[4:]
	if err := z.readFull(id); err != nil {
		return err
	}
	if string(id) != StreamID[4:] {
		return errNoStreamID
	}
	z.sawID = true
	return nil
}

// checkPayload checks the payload length n of a data chunk: it must hold
// the checksum and stay within limit.
func checkPayload(n, limit int) error {
	if n < checksumSize {
		return errCorrupt
	}
	if n > limit {
		return errTooLarge
	}
	return nil
}

// accept makes data the current chunk's decoded bytes if its masked CRC is
// want, and reports errChecksum otherwise.
func (z *Reader) accept(data []byte, want uint32) error {
	if MaskedCRC(data) != want {
		return errChecksum
	}
	z.data = data
	return nil
}

// readCompressed reads a compressed chunk with a payload of n bytes, decodes
// it and verifies its checksum. The declared length is checked against
// maxBlockSize before the decoded buffer is sized.
func (z *Reader) readCompressed(n int) error {
	if err := checkPayload(n, maxChunkPayload); err != nil {
		return err
	}
	raw := z.rawBuf(n)
	if err := z.readFull(raw); err != nil {
		return err
	}
	want := binary.LittleEndian.Uint32(raw[:4])
	size, _, err := decodedLen(raw[4:])
	if err != nil {
		return err
	}
	if size > maxBlockSize {
		return errTooLarge
	}
	data, err := decodeBlockLimit(z.dataBuf(int(size)), raw[4:], maxBlockSize)
	if err != nil {
		return err
	}
	return z.accept(data, want)
}

// readUncompressed reads an uncompressed chunk with a payload of n bytes
// straight into the decoded buffer and verifies its checksum.
func (z *Reader) readUncompressed(n int) error {
	if err := checkPayload(n, checksumSize+maxBlockSize); err != nil {
		return err
	}
	sum := z.scratch[:4]
	if err := z.readFull(sum); err != nil {
		return err
	}
	want := binary.LittleEndian.Uint32(sum)
	data := z.dataBuf(n - checksumSize)[:n-checksumSize]
	if err := z.readFull(data); err != nil {
		return err
	}
	return z.accept(data, want)
}

// skipChunk discards the n-byte payload of a padding or skippable chunk in
// pieces of at most maxChunkPayload bytes.
func (z *Reader) skipChunk(n int) error {
	for n > 0 {
		k := min(n, maxChunkPayload)
		if err := z.readFull(z.rawBuf(k)); err != nil {
			return err
		}
		n -= k
	}
	return nil
}
