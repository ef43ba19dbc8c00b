package snappy

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// TestBlockRoundTrip encodes and decodes assorted inputs, also appending to
// non-empty destination slices.
func TestBlockRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one", []byte{'x'}},
		{"fifteen", []byte("abcabcabcabcabc")},
		{"sixteen", []byte("abcabcabcabcabca")},
		{"random1000", testRandom(1000, 1)},
		{"zeros4096", make([]byte, 4096)},
		{"mixed4097", testMixed(4097, 2)},
		{"text64k", testText(65536)},
		{"random64k+1", testRandom(65537, 3)},
		{"mixed1m", testMixed(1<<20, 4)},
		{"zeros200k", make([]byte, 200000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := EncodeBlock([]byte("pre"), tc.data)
			if string(enc[:3]) != "pre" {
				t.Fatal("encoder clobbered dst prefix")
			}
			enc = enc[3:]
			if len(enc) > maxEncodedLen(len(tc.data)) {
				t.Fatalf("encoded %d bytes, bound %d", len(enc), maxEncodedLen(len(tc.data)))
			}
			dec, err := decodeBlock([]byte("xyz"), enc)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if string(dec[:3]) != "xyz" || !bytes.Equal(dec[3:], tc.data) {
				t.Fatal("round trip mismatch")
			}
		})
	}
}

// TestCompresses checks the encoder's compression on repetitive input,
// both as a block and through the framing writer.
func TestCompresses(t *testing.T) {
	tests := []struct {
		name     string
		data     []byte
		maxRatio float64
	}{
		{"repeated text", testText(65536), 0.10},
		{"repeated phrase", bytes.Repeat([]byte("PUB topic 12 hello world\n"), 65536/25), 0.10},
		{"zeros", make([]byte, 65536), 0.10},
		{"mixed text", testMixed(65536, 9), 0.75},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := EncodeBlock(nil, tc.data)
			ratio := float64(len(enc)) / float64(len(tc.data))
			t.Logf("%d -> %d bytes (%.2f%%)", len(tc.data), len(enc), 100*ratio)
			if ratio >= tc.maxRatio {
				t.Fatalf("block ratio %.3f, want < %.3f", ratio, tc.maxRatio)
			}
			stream := writeStream(t, tc.data, len(tc.data))
			if r := float64(len(stream)) / float64(len(tc.data)); r >= tc.maxRatio {
				t.Fatalf("frame ratio %.3f, want < %.3f", r, tc.maxRatio)
			}
		})
	}
}

// TestEncodeBlockNoAlloc checks that the encoder does not allocate when dst
// has room for the worst case, and that maxEncodedBlockSize is that worst
// case for a full block.
func TestEncodeBlockNoAlloc(t *testing.T) {
	if maxEncodedBlockSize != maxEncodedLen(maxBlockSize) {
		t.Fatalf("maxEncodedBlockSize = %d, want %d", maxEncodedBlockSize, maxEncodedLen(maxBlockSize))
	}
	data := testMixed(65536, 12)
	enc := make([]byte, 0, maxEncodedLen(len(data)))
	allocs := testing.AllocsPerRun(20, func() {
		enc = EncodeBlock(enc[:0], data)
	})
	if allocs != 0 {
		t.Fatalf("encode: %v allocations per run, want 0", allocs)
	}
}

// FuzzRoundTrip checks that block and framing encodings of arbitrary input
// decode back to it.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte(nil), uint16(0))
	f.Add([]byte("a"), uint16(1))
	f.Add([]byte("Hello, snappy! Hello, snappy! Hello, snappy!"), uint16(5))
	f.Add(testRandom(300, 7), uint16(100))
	f.Add(testMixed(3000, 11), uint16(999))
	f.Add(testText(3000), uint16(2047))
	f.Fuzz(func(t *testing.T, data []byte, step uint16) {
		enc := EncodeBlock(nil, data)
		if len(enc) > maxEncodedLen(len(data)) {
			t.Fatalf("encoded %d bytes, bound %d", len(enc), maxEncodedLen(len(data)))
		}
		dec, err := decodeBlock(nil, enc)
		if err != nil || !bytes.Equal(dec, data) {
			t.Fatalf("block round trip failed: %v", err)
		}
		var stream bytes.Buffer
		w := NewWriter(&stream)
		// At most about 64 writes, so that every execution stays cheap.
		size := max(int(step)+1, len(data)/64)
		for p := data; len(p) > 0; {
			k := min(size, len(p))
			if _, err := w.Write(p[:k]); err != nil {
				t.Fatal(err)
			}
			p = p[k:]
			if step%3 == 0 {
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(NewReader(iotest.HalfReader(bytes.NewReader(stream.Bytes()))))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("framing round trip failed: %v", err)
		}
	})
}

// BenchmarkEncode measures block encoding of 64 KiB of mixed text.
func BenchmarkEncode(b *testing.B) {
	data := testMixed(maxBlockSize, 42)
	dst := make([]byte, 0, maxEncodedLen(len(data)))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		dst = EncodeBlock(dst[:0], data)
	}
	b.ReportMetric(100*float64(len(dst))/float64(len(data)), "%size")
}
