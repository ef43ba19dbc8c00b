package snappy

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestGoldenFrame reads golang/snappy framing streams with partial reads.
func TestGoldenFrame(t *testing.T) {
	sawCompressed := false
	for _, tc := range golden {
		stream := unhex(t, tc.frame)
		for _, c := range parseChunks(t, stream) {
			if c.typ == ChunkCompressed {
				sawCompressed = true
			}
		}
		for _, rd := range partialReaders {
			t.Run(tc.name+"/"+rd.name, func(t *testing.T) {
				got, err := io.ReadAll(NewReader(rd.wrap(bytes.NewReader(stream))))
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if !bytes.Equal(got, tc.input()) {
					t.Fatalf("data mismatch: got %d bytes", len(got))
				}
			})
		}
	}
	if !sawCompressed {
		t.Fatal("golden streams contain no compressed chunk")
	}
}

// TestReaderIOTest runs the generic reader checks of testing/iotest.
func TestReaderIOTest(t *testing.T) {
	data := testMixed(150000, 10)
	stream := writeStream(t, data, len(data))
	if err := iotest.TestReader(NewReader(bytes.NewReader(stream)), data); err != nil {
		t.Fatal(err)
	}
}

// TestReaderCorrupt feeds malformed framing streams to the reader.
func TestReaderCorrupt(t *testing.T) {
	hello := []byte("hello, world")
	big := make([]byte, maxBlockSize+1)
	tests := []struct {
		name     string
		stream   []byte
		wantData string
		want     error
	}{
		{"bad crc uncompressed", testStream(testDataChunk(1, hello, 1)), "", errChecksum},
		{"bad crc compressed", testStream(testDataChunk(0, hello, 0x100)), "", errChecksum},
		{"bad crc second chunk", testStream(testDataChunk(0, hello, 0), testDataChunk(1, hello, 7)), "hello, world", errChecksum},
		{"bad stream identifier", append([]byte("\xff\x06\x00\x00sNaPpX"), testDataChunk(1, hello, 0)...), "", errNoStreamID},
		{"stream identifier wrong length", append([]byte("\xff\x05\x00\x00sNaPp"), testDataChunk(1, hello, 0)...), "", errNoStreamID},
		{"bad repeated stream identifier", testStream(testDataChunk(1, hello, 0), []byte("\xff\x06\x00\x00SNAPPY")), "hello, world", errNoStreamID},
		{"missing stream identifier", testDataChunk(1, hello, 0), "", errNoStreamID},
		{"padding before stream identifier", append(testChunk(0xfe, []byte{0}), StreamID...), "", errNoStreamID},
		{"unskippable 0x02", testStream(testChunk(0x02, []byte("xx"))), "", errUnskippable},
		{"unskippable 0x7f", testStream(testDataChunk(0, hello, 0), testChunk(0x7f, nil)), "hello, world", errUnskippable},
		{"truncated stream identifier", []byte(StreamID[:7]), "", io.ErrUnexpectedEOF},
		{"truncated chunk header", testStream([]byte{0x01, 0x10}), "", io.ErrUnexpectedEOF},
		{"truncated chunk payload", testStream(testDataChunk(1, hello, 0)[:10]), "", io.ErrUnexpectedEOF},
		{"truncated checksum", testStream(testDataChunk(1, hello, 0)[:6]), "", io.ErrUnexpectedEOF},
		{"truncated compressed chunk", testStream(testDataChunk(0, hello, 0)[:12]), "", io.ErrUnexpectedEOF},
		{"truncated skippable chunk", testStream(testChunk(0x80, make([]byte, 100))[:50]), "", io.ErrUnexpectedEOF},
		{"compressed chunk declaring > 65536", testStream(testDataChunk(0, big, 0)), "", errTooLarge},
		{"compressed chunk too long", testStream([]byte{0x00, 0xff, 0xff, 0xff}), "", errTooLarge},
		{"uncompressed chunk > 65536", testStream(testDataChunk(1, big, 0)), "", errTooLarge},
		{"compressed chunk without checksum", testStream(testChunk(0, []byte{1, 2, 3})), "", errCorrupt},
		{"uncompressed chunk without checksum", testStream(testChunk(1, []byte{1})), "", errCorrupt},
		{"compressed payload copy before start", testStream(testChunk(0, unhex(t, "00000000 0500610102"))), "", errCorrupt},
		{"compressed payload varint overflow", testStream(testChunk(0, unhex(t, "00000000 ffffffffff01"))), "", errCorrupt},
		{"compressed payload empty", testStream(testChunk(0, unhex(t, "00000000"))), "", errCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(iotest.HalfReader(bytes.NewReader(tc.stream)))
			got, err := io.ReadAll(r)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if string(got) != tc.wantData {
				t.Fatalf("data = %q, want %q", got, tc.wantData)
			}
			// Errors are sticky.
			if n, err2 := r.Read(make([]byte, 10)); n != 0 || err2 != err {
				t.Fatalf("second Read = %d, %v; want 0, %v", n, err2, err)
			}
		})
	}
}

// TestReaderSkips checks padding, skippable chunks, repeated stream
// identifiers and empty data chunks.
func TestReaderSkips(t *testing.T) {
	a, b, c := []byte("first "), testText(3000), []byte(" last")
	stream := testStream(
		testChunk(0xfe, make([]byte, 100)),
		testDataChunk(1, a, 0),
		testChunk(0x80, testRandom(200000, 3)),
		[]byte(StreamID),
		testDataChunk(1, nil, 0),
		testDataChunk(0, nil, 0),
		testDataChunk(0, b, 0),
		testChunk(0xfd, nil),
		testChunk(0xfe, nil),
		testDataChunk(1, c, 0),
	)
	want := string(a) + string(b) + string(c)
	for _, wrap := range []func(io.Reader) io.Reader{iotest.OneByteReader, iotest.HalfReader, iotest.DataErrReader} {
		got, err := io.ReadAll(NewReader(wrap(bytes.NewReader(stream))))
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if string(got) != want {
			t.Fatalf("got %d bytes, want %d", len(got), len(want))
		}
	}
	// An empty stream, or one with only the identifier, is empty.
	for _, s := range []string{"", StreamID, StreamID + StreamID} {
		got, err := io.ReadAll(NewReader(strings.NewReader(s)))
		if err != nil || len(got) != 0 {
			t.Fatalf("ReadAll(%q) = %q, %v", s, got, err)
		}
	}
}

// TestReaderBoundedBuffers checks that the reader's buffers stay small for
// small chunks and never exceed the chunk limits, even for a skippable
// chunk of the largest encodable length.
func TestReaderBoundedBuffers(t *testing.T) {
	tests := []struct {
		name            string
		stream          []byte
		maxRaw, maxData int
	}{
		{"small chunks", testStream(testDataChunk(0, []byte("OK"), 0), testDataChunk(1, []byte("E_INVALID"), 0)), 4096, 4096},
		{"huge skippable", testStream(testChunk(0x99, make([]byte, 1<<24-1)), testDataChunk(1, []byte("x"), 0)), maxChunkPayload, 4096},
		{"full blocks", testStream(testDataChunk(1, testRandom(65536, 1), 0), testDataChunk(0, testText(65536), 0)), maxChunkPayload, maxBlockSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.stream))
			if _, err := io.Copy(io.Discard, r); err != nil {
				t.Fatal(err)
			}
			if cap(r.raw) > tc.maxRaw || cap(r.data) > tc.maxData {
				t.Fatalf("buffers grew to raw %d, data %d; want <= %d, %d", cap(r.raw), cap(r.data), tc.maxRaw, tc.maxData)
			}
		})
	}
}

// errBlocked is returned by onceReader once its data is used up.
var errBlocked = errors.New("read would block")

// onceReader serves data and then fails, standing in for a connection with
// nothing more to read yet.
type onceReader struct {
	data []byte
}

// Read implements io.Reader.
func (o *onceReader) Read(p []byte) (int, error) {
	if len(o.data) == 0 {
		return 0, errBlocked
	}
	n := copy(p, o.data)
	o.data = o.data[n:]
	return n, nil
}

// TestReaderReturnsEarly checks that Read returns the first chunk's data
// without trying to read further chunks.
func TestReaderReturnsEarly(t *testing.T) {
	for _, typ := range []byte{ChunkCompressed, ChunkUncompressed} {
		src := &onceReader{data: testStream(testDataChunk(typ, []byte("OK"), 0))}
		r := NewReader(src)
		buf := make([]byte, 1000)
		n, err := r.Read(buf)
		if err != nil || string(buf[:n]) != "OK" {
			t.Fatalf("Read = %q, %v", buf[:n], err)
		}
		if len(src.data) != 0 {
			t.Fatalf("chunk not fully consumed")
		}
		if _, err := r.Read(buf); err != errBlocked {
			t.Fatalf("second Read error = %v, want %v", err, errBlocked)
		}
	}
}

// TestReaderSteadyStateAllocs checks that the reader reuses its buffers
// once warmed up.
func TestReaderSteadyStateAllocs(t *testing.T) {
	block := testMixed(maxBlockSize, 13)
	var stream bytes.Buffer
	w := NewWriter(&stream)
	for range 25 {
		if _, err := w.Write(block); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(testRandom(1000, 1)); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(bytes.NewReader(stream.Bytes()))
	buf := make([]byte, len(block)+1000)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("reader: %v allocations per run, want 0", allocs)
	}
}
