package snappy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// recorder is an io.Writer with a Flush method that records calls.
type recorder struct {
	bytes.Buffer
	writes, flushes int
	writeErr        error
	flushErr        error
}

// Write implements io.Writer.
func (r *recorder) Write(p []byte) (int, error) {
	r.writes++
	if r.writeErr != nil {
		return 0, r.writeErr
	}
	return r.Buffer.Write(p)
}

// Flush records the call.
func (r *recorder) Flush() error {
	r.flushes++
	return r.flushErr
}

// TestWriterBuffering checks when the writer writes to and flushes the
// underlying writer.
func TestWriterBuffering(t *testing.T) {
	rec := &recorder{}
	w := NewWriter(rec)
	// calls checks the number of Write and Flush calls that reached rec.
	calls := func(when string, writes, flushes int) {
		t.Helper()
		if rec.writes != writes || rec.flushes != flushes {
			t.Fatalf("%s: %d writes, %d flushes; want %d, %d", when, rec.writes, rec.flushes, writes, flushes)
		}
	}
	msg := []byte("PUB topic\n")
	for range 100 {
		if _, err := w.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	calls("after small writes", 0, 0)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	calls("after Flush", 1, 1)
	if !bytes.HasPrefix(rec.Bytes(), []byte(StreamID)) {
		t.Fatal("stream does not start with the identifier")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	calls("after empty Flush", 1, 2)
	// A full block goes out without Flush, in one Write.
	if _, err := w.Write(testRandom(maxBlockSize-5, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	calls("after full block", 2, 2)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if chunks := parseChunks(t, rec.Bytes()); len(chunks) != 4 {
		t.Fatalf("%d chunks, want 4", len(chunks))
	}
	got, err := io.ReadAll(NewReader(bytes.NewReader(rec.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	want := append(bytes.Repeat(msg, 100), testRandom(maxBlockSize-5, 1)...)
	want = append(want, make([]byte, 10)...)
	if !bytes.Equal(got, want) {
		t.Fatal("data mismatch")
	}

	// Flush before any data emits just the identifier.
	rec = &recorder{}
	if err := NewWriter(rec).Flush(); err != nil {
		t.Fatal(err)
	}
	if rec.String() != StreamID || rec.flushes != 1 {
		t.Fatalf("empty Flush wrote %q, %d flushes", rec.String(), rec.flushes)
	}
}

// TestWriterChunks checks chunk sizes and the choice between compressed
// and uncompressed chunks.
func TestWriterChunks(t *testing.T) {
	tests := []struct {
		name      string
		data      []byte
		wantTypes []byte
	}{
		{"random", testRandom(65536, 2), []byte{1}},
		{"text", testText(65536), []byte{0}},
		{"text+1", testText(65537), []byte{0, 1}},
		{"random+text", append(testRandom(65536, 3), testText(65536*2+100)...), []byte{1, 0, 0, 0}},
		{"mixed", testMixed(200000, 4), []byte{0, 0, 0, 0}},
		{"tiny", []byte("abc"), []byte{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chunks := parseChunks(t, writeStream(t, tc.data, 10000))
			if len(chunks) == 0 || chunks[0].typ != chunkStreamID {
				t.Fatal("missing stream identifier")
			}
			var types []byte
			total := 0
			for _, c := range chunks[1:] {
				types = append(types, c.typ)
				var data []byte
				switch c.typ {
				case ChunkCompressed:
					var err error
					data, err = decodeBlockLimit(nil, c.payload[4:], maxBlockSize)
					if err != nil {
						t.Fatal(err)
					}
					if len(c.payload)-4 >= len(data)-len(data)/8 {
						t.Fatalf("compressed chunk saves too little: %d -> %d", len(data), len(c.payload)-4)
					}
				case ChunkUncompressed:
					data = c.payload[4:]
					if enc := EncodeBlock(nil, data); len(enc) < len(data)-len(data)/8 {
						t.Fatalf("uncompressed chunk would compress: %d -> %d", len(data), len(enc))
					}
				default:
					t.Fatalf("unexpected chunk type %#x", c.typ)
				}
				if len(data) == 0 || len(data) > maxBlockSize {
					t.Fatalf("chunk holds %d bytes", len(data))
				}
				if binary.LittleEndian.Uint32(c.payload) != MaskedCRC(data) {
					t.Fatal("bad checksum")
				}
				total += len(data)
			}
			if !bytes.Equal(types, tc.wantTypes) {
				t.Fatalf("chunk types %v, want %v", types, tc.wantTypes)
			}
			if total != len(tc.data) {
				t.Fatalf("chunks hold %d bytes, want %d", total, len(tc.data))
			}
		})
	}
}

// TestWriterErrors checks that write and flush errors are reported and
// sticky.
func TestWriterErrors(t *testing.T) {
	errWrite := errors.New("write failed")
	errFlush := errors.New("flush failed")
	tests := []struct {
		name string
		rec  *recorder
		big  bool // trigger the error from Write rather than Flush
		want error
	}{
		{"write error on flush", &recorder{writeErr: errWrite}, false, errWrite},
		{"write error on full block", &recorder{writeErr: errWrite}, true, errWrite},
		{"flush error", &recorder{flushErr: errFlush}, false, errFlush},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWriter(tc.rec)
			var err error
			if tc.big {
				_, err = w.Write(make([]byte, 2*maxBlockSize))
			} else {
				if _, err := w.Write([]byte("x")); err != nil {
					t.Fatal(err)
				}
				err = w.Flush()
			}
			if err != tc.want {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if _, err := w.Write([]byte("y")); err != tc.want {
				t.Fatalf("later Write err = %v, want %v", err, tc.want)
			}
			if err := w.Flush(); err != tc.want {
				t.Fatalf("later Flush err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestWriterSteadyStateAllocs checks that the writer reuses its buffers
// once warmed up.
func TestWriterSteadyStateAllocs(t *testing.T) {
	block := testMixed(maxBlockSize, 13)
	w := NewWriter(io.Discard)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := w.Write(block[:1000]); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(block); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("writer: %v allocations per run, want 0", allocs)
	}
}

// TestFramingRoundTrip pushes inputs through the writer with different
// write patterns and reads them back with partial reads.
func TestFramingRoundTrip(t *testing.T) {
	inputs := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one", []byte{0x42}},
		{"random", testRandom(10000, 5)},
		{"compressible", testText(100000)},
		{"64k", testMixed(65536, 6)},
		{"64k+1", testMixed(65537, 7)},
		{"1m", testMixed(1<<20, 8)},
	}
	writes := []struct {
		name string
		step int  // size of each Write call
		bufd bool // go through a bufio.Writer layered above
		each bool // Flush after every Write
	}{
		{"single", 1 << 30, false, false},
		{"small", 1000, false, false},
		{"small-flush", 1000, false, true},
		{"bufio", 333, true, false},
		{"odd", 65537, false, false},
	}
	for _, in := range inputs {
		for _, wr := range writes {
			var stream bytes.Buffer
			sw := NewWriter(&stream)
			var w io.Writer = sw
			var bw *bufio.Writer
			if wr.bufd {
				bw = bufio.NewWriter(sw)
				w = bw
			}
			for p := in.data; len(p) > 0; {
				k := min(wr.step, len(p))
				if n, err := w.Write(p[:k]); n != k || err != nil {
					t.Fatalf("%s/%s: Write = %d, %v", in.name, wr.name, n, err)
				}
				p = p[k:]
				if wr.each {
					if err := sw.Flush(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if bw != nil {
				if err := bw.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			if err := sw.Flush(); err != nil {
				t.Fatal(err)
			}
			for _, c := range parseChunks(t, stream.Bytes()) {
				if c.typ != chunkStreamID && len(c.payload) > maxChunkPayload {
					t.Fatalf("%s/%s: chunk payload of %d bytes", in.name, wr.name, len(c.payload))
				}
			}
			for _, rd := range partialReaders {
				if rd.name == "dataerr" {
					continue // left to TestGoldenFrame, to keep this matrix quick
				}
				t.Run(in.name+"/"+wr.name+"/"+rd.name, func(t *testing.T) {
					r := NewReader(rd.wrap(bytes.NewReader(stream.Bytes())))
					// Read through a one-byte reader too, to exercise
					// small destination buffers.
					var src io.Reader = r
					if rd.name == "half" && len(in.data) <= 100000 {
						src = iotest.OneByteReader(r)
					}
					got, err := io.ReadAll(src)
					if err != nil {
						t.Fatalf("read: %v", err)
					}
					if !bytes.Equal(got, in.data) {
						t.Fatalf("mismatch: got %d bytes, want %d", len(got), len(in.data))
					}
				})
			}
		}
	}
}
