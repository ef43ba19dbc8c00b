package snappy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestGoldenBlock decodes golang/snappy block encodings.
func TestGoldenBlock(t *testing.T) {
	for _, tc := range golden {
		if tc.block == notRecorded {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			want := tc.input()
			enc := unhex(t, tc.block)
			n, _, err := decodedLen(enc)
			if err != nil || n != uint64(len(want)) {
				t.Fatalf("decodedLen = %d, %v; want %d", n, err, len(want))
			}
			got, err := decodeBlockLimit(nil, enc, maxBlockSize)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("decode mismatch")
			}
			// Our own encoding must round trip too.
			ours := EncodeBlock(nil, want)
			got, err = decodeBlock(nil, ours)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("round trip of our encoding failed: %v", err)
			}
		})
	}
}

// TestDecodeBlockCorrupt feeds malformed blocks to the decoder.
func TestDecodeBlockCorrupt(t *testing.T) {
	tests := []struct {
		name  string
		in    string // hex
		limit int
		want  error
	}{
		{"empty input", "", 100, errCorrupt},
		{"varint truncated", "80", 100, errCorrupt},
		{"varint overflow six bytes", "ffffffffff01", 1 << 30, errCorrupt},
		{"varint above 2^32-1", "ffffffff1f", 1 << 30, errCorrupt},
		{"varint overlong zero", "8080808000", 100, nil},
		{"declared above limit", "818004" + strings.Repeat("fe0100", 1100), maxBlockSize, errTooLarge},
		{"declared length impossible", "e40700", maxBlockSize, errCorrupt},
		{"copy-1 offset zero", "05006101 00", 100, errCorrupt},
		{"copy-1 offset before start", "0500610102", 100, errCorrupt},
		{"copy-1 long offset before start", "102c 6162636465666768696a6b6c e1ff", 100, errCorrupt},
		{"copy-2 offset before start", "030061060500", 100, errCorrupt},
		{"copy-2 offset zero", "030061060000", 100, errCorrupt},
		{"copy-4 offset before start", "03006107 02000000", 100, errCorrupt},
		{"copy-4 huge offset", "03006107 ffffffff", 100, errCorrupt},
		{"copy first", "0401 01", 100, errCorrupt},
		{"literal past end of input", "0a246162", 100, errCorrupt},
		{"literal longer than declared", "01046162", 100, errCorrupt},
		{"copy longer than declared", "0500610501", 100, errCorrupt},
		{"output shorter than declared", "030061", 100, errCorrupt},
		{"trailing bytes", "0100616263", 100, errCorrupt},
		{"truncated literal length", "0af0", 100, errCorrupt},
		{"truncated two-byte literal length", "0af400", 100, errCorrupt},
		{"huge literal length", "0afcffffffff61", 100, errCorrupt},
		{"truncated copy-1", "05006101", 100, errCorrupt},
		{"truncated copy-2", "0500610601", 100, errCorrupt},
		{"truncated copy-4", "050061070100", 100, errCorrupt},
		{"negative limit", "00", -1, errTooLarge},
		{"valid overlapping copy", "0a00611501", 100, nil},
		{"valid copy-4", "0708616263 0f03000000", 100, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := unhex(t, tc.in)
			dst := []byte("keep")
			got, err := decodeBlockLimit(dst, in, tc.limit)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err != nil && (len(got) != len(dst) || string(got) != "keep") {
				t.Fatalf("dst changed on error: %q", got)
			}
		})
	}
}

// TestDecodeBlockValid checks hand-built blocks, including copy-4 and
// overlapping copies that our encoder does not emit.
func TestDecodeBlockValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "00", ""},
		{"overlong zero length", "8000", ""},
		{"literal", "0308616263", "abc"},
		{"run via copy-1", "0a00611501", "aaaaaaaaaa"},
		{"run via copy-2", "0a0061220100", "aaaaaaaaaa"},
		{"copy-4", "0708616263 0f03000000", "abcabca"},
		{"copy-4 overlap", "0908616263 1702000000", "abcbcbcbc"},
		{"one-byte literal length", "3cf03b" + strings.Repeat("7a", 60), strings.Repeat("z", 60)},
		{"two-byte literal length", "3cf43b00" + strings.Repeat("7a", 60), strings.Repeat("z", 60)},
		{"four-byte literal length", "03fc02000000616263", "abc"},
		{"copy-1 max offset", "8410" + "f4ff07" + strings.Repeat("61", 2047) + "62" + "e1ff", strings.Repeat("a", 2047) + "b" + "aaaa"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeBlock(nil, unhex(t, tc.in))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if string(got) != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDecodeBlockNoAlloc checks that the decoder does not allocate when dst
// has room, nor for a declared length the input cannot produce.
func TestDecodeBlockNoAlloc(t *testing.T) {
	data := testMixed(65536, 12)
	enc := EncodeBlock(nil, data)
	dst := make([]byte, 0, len(data))
	bogus := unhex(t, "808004 0000")
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := decodeBlock(dst, enc); err != nil {
			t.Fatal(err)
		}
		if _, err := decodeBlockLimit(nil, bogus, maxBlockSize); err == nil {
			t.Fatal("bogus block accepted")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
}

// FuzzDecodeBlock checks that arbitrary input never makes the block decoder
// or the framing reader panic or misbehave.
func FuzzDecodeBlock(f *testing.F) {
	for _, tc := range golden {
		if tc.block != notRecorded {
			f.Add(unhex(f, tc.block))
		}
	}
	for _, s := range []string{"", "00", "0500610102", "ffffffffff01", "0708616263 0f03000000", "0a00611501", "0afcffffffff61"} {
		f.Add(unhex(f, s))
	}
	f.Add(EncodeBlock(nil, testMixed(5000, 1)))
	const limit = 1 << 18
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := decodeBlockLimit(nil, data, limit)
		n, _, lenErr := decodedLen(data)
		if err == nil {
			if lenErr != nil || uint64(len(out)) != n {
				t.Fatalf("decoded %d bytes, declared %d (%v)", len(out), n, lenErr)
			}
			enc := EncodeBlock(nil, out)
			back, err := decodeBlock(nil, enc)
			if err != nil || !bytes.Equal(back, out) {
				t.Fatalf("re-encode round trip failed: %v", err)
			}
		} else if lenErr == nil && n > limit && !errors.Is(err, errTooLarge) {
			t.Fatalf("declared %d above limit gave %v", n, err)
		}
		// Decoding after a prefix must give the same verdict and leave the
		// prefix alone.
		out2, err2 := decodeBlockLimit([]byte("prefix"), data, limit)
		if (err == nil) != (err2 == nil) || string(out2[:6]) != "prefix" || (err == nil && !bytes.Equal(out2[6:], out)) {
			t.Fatalf("prefix decode differs: %v vs %v", err, err2)
		}
		// The framing reader must cope with the same bytes as a stream and
		// as a compressed chunk payload.
		_, _ = io.Copy(io.Discard, NewReader(bytes.NewReader(data)))
		stream := testStream(data)
		_, _ = io.Copy(io.Discard, NewReader(iotest.HalfReader(bytes.NewReader(stream))))
		crc := binary.LittleEndian.AppendUint32(nil, MaskedCRC(out))
		chunk := testStream(testChunk(ChunkCompressed, append(crc, data...)))
		got, err := io.ReadAll(NewReader(bytes.NewReader(chunk)))
		if err == nil && !bytes.Equal(got, out) {
			t.Fatal("chunk decode differs from block decode")
		}
	})
}

// BenchmarkDecode measures block decoding of 64 KiB of mixed text.
func BenchmarkDecode(b *testing.B) {
	data := testMixed(maxBlockSize, 42)
	enc := EncodeBlock(nil, data)
	dst := make([]byte, 0, len(data))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = decodeBlock(dst[:0], enc); err != nil {
			b.Fatal(err)
		}
	}
}
