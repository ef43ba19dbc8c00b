package snappy

import (
	"encoding/binary"
	"io"
)

// flusher is implemented by writers, such as *bufio.Writer, that buffer
// data and can push it on.
type flusher interface {
	Flush() error
}

// Writer encodes data in the snappy framing format. Writes are buffered
// until 64 KiB are pending or Flush is called; each chunk is then
// compressed, or stored uncompressed when compression saves less than
// 12.5%, and written with a single Write call. After the first error every
// method returns that error. It is not safe for concurrent use.
type Writer struct {
	w       io.Writer
	err     error
	wroteID bool   // the stream identifier has been emitted
	buf     []byte // pending uncompressed bytes, at most maxBlockSize
	out     []byte // staging area for the encoded chunk, reused
}

// NewWriter returns a Writer that writes the framing-format encoding of
// its input to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// Write implements io.Writer. It buffers p and emits a chunk for every
// 64 KiB accumulated; whole blocks of a large p are encoded straight from
// p without being copied into the buffer.
func (z *Writer) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	total := 0
	for len(p) > 0 {
		if len(z.buf) == 0 && len(p) >= maxBlockSize {
			if err := z.writeChunk(p[:maxBlockSize]); err != nil {
				return total, err
			}
			p = p[maxBlockSize:]
			total += maxBlockSize
			continue
		}
		k := min(maxBlockSize-len(z.buf), len(p))
		z.buf = append(z.buf, p[:k]...)
		p = p[k:]
		total += k
		if len(z.buf) == maxBlockSize {
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
func (z *Writer) Flush() error {
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
		if _, err := io.WriteString(z.w, StreamID); err != nil {
			z.err = err
			return err
		}
	}
	if f, ok := z.w.(flusher); ok {
		if err := f.Flush(); err != nil {
			z.err = err
			return err
		}
	}
	return nil
}

// writeChunk encodes data (1..maxBlockSize bytes) as one chunk, preceded
// by the stream identifier if it has not been written yet, and writes it
// to the underlying writer.
func (z *Writer) writeChunk(data []byte) error {
	out := z.out[:0]
	if !z.wroteID {
		out = append(out, StreamID...)
		z.wroteID = true
	}
	h := len(out)
	out = append(out, 0, 0, 0, 0, 0, 0, 0, 0)
	out = EncodeBlock(out, data)
	typ := byte(ChunkCompressed)
	if len(out)-h-8 >= len(data)-len(data)/8 {
		typ = ChunkUncompressed
		out = append(out[:h+8], data...)
	}
	n := len(out) - h - 4
	out[h] = typ
	out[h+1] = byte(n)
	out[h+2] = byte(n >> 8)
	out[h+3] = byte(n >> 16)
	binary.LittleEndian.PutUint32(out[h+4:h+8], MaskedCRC(data))
	z.out = out
	if _, err := z.w.Write(out); err != nil {
		z.err = err
		return err
	}
	return nil
}
