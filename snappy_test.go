package nsqpub

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// snappyTestRandom returns n pseudo-random (incompressible) bytes derived
// from seed with a xorshift generator.
func snappyTestRandom(n int, seed uint64) []byte {
	b := make([]byte, n)
	x := seed | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x >> 32)
	}
	return b
}

// snappyTestText returns n bytes of highly repetitive text.
func snappyTestText(n int) []byte {
	var b []byte
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, "line %d: the quick brown fox jumps over the lazy dog\n", i%4)
	}
	return b[:n]
}

// snappyTestWords is the vocabulary of snappyTestMixed.
var snappyTestWords = []string{"nsq", "publish", "topic", "channel", "message", "snappy", "the", "a", "of", "to", "frame", "chunk", "producer", "consumer", "deflate", "identify", "heartbeat", "\n", "{\"id\":", "}", ", "}

// snappyTestMixed returns n bytes of moderately compressible text: words
// from a small vocabulary mixed with pseudo-random numbers.
func snappyTestMixed(n int, seed uint64) []byte {
	var b []byte
	x := seed | 1
	for len(b) < n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		if x%7 == 0 {
			b = fmt.Appendf(b, "%d", x%100000)
		} else {
			b = append(b, snappyTestWords[x%uint64(len(snappyTestWords))]...)
		}
		b = append(b, ' ')
	}
	return b[:n]
}

// snappyHex decodes a hex string that may contain white space.
func snappyHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex: %v", err)
	}
	return b
}

// snappyTestChunk builds a framing chunk of type typ with the given
// payload.
func snappyTestChunk(typ byte, payload []byte) []byte {
	n := len(payload)
	return append([]byte{typ, byte(n), byte(n >> 8), byte(n >> 16)}, payload...)
}

// snappyTestDataChunk builds a compressed (typ 0) or uncompressed (typ 1)
// chunk holding data, whose checksum field is the correct one plus
// crcDelta.
func snappyTestDataChunk(typ byte, data []byte, crcDelta uint32) []byte {
	payload := binary.LittleEndian.AppendUint32(nil, snappyMaskedCRC(data)+crcDelta)
	if typ == snappyChunkCompressed {
		payload = snappyEncodeBlock(payload, data)
	} else {
		payload = append(payload, data...)
	}
	return snappyTestChunk(typ, payload)
}

// snappyTestStream concatenates the stream identifier and the given chunks.
func snappyTestStream(chunks ...[]byte) []byte {
	s := []byte(snappyStreamID)
	for _, c := range chunks {
		s = append(s, c...)
	}
	return s
}

// snappyTestChunkInfo describes one chunk of a framing stream.
type snappyTestChunkInfo struct {
	typ     byte
	payload []byte
}

// snappyTestParseChunks splits a framing stream into its chunks.
func snappyTestParseChunks(t testing.TB, stream []byte) []snappyTestChunkInfo {
	t.Helper()
	var out []snappyTestChunkInfo
	for len(stream) > 0 {
		if len(stream) < 4 {
			t.Fatalf("truncated chunk header")
		}
		n := int(stream[1]) | int(stream[2])<<8 | int(stream[3])<<16
		if len(stream) < 4+n {
			t.Fatalf("truncated chunk")
		}
		out = append(out, snappyTestChunkInfo{stream[0], stream[4 : 4+n]})
		stream = stream[4+n:]
	}
	return out
}

// snappyNotRecorded marks a golden entry without a block encoding.
const snappyNotRecorded = "-"

// snappyGolden holds encodings produced by github.com/golang/snappy v0.0.4:
// block is snappy.Encode(nil, input) and frame is what
// snappy.NewBufferedWriter wrote for input followed by Close.
var snappyGolden = []struct {
	name  string
	input func() []byte
	block string
	frame string
}{
	{
		name:  "empty",
		input: func() []byte { return nil },
		block: `
			00
`,
		frame: `
`,
	},
	{
		name:  "one",
		input: func() []byte { return []byte("a") },
		block: `
			010061
`,
		frame: `
			ff060000734e6150705901050000786ee42861
`,
	},
	{
		name:  "short",
		input: func() []byte { return []byte("Hello, snappy! Hello, snappy! Hello, snappy!") },
		block: `
			2c3848656c6c6f2c20736e617070792120720f00
`,
		frame: `
			ff060000734e615070590018000083febf3f2c3848656c6c6f2c20736e617070792120720f00
`,
	},
	{
		name:  "random300",
		input: func() []byte { return snappyTestRandom(300, 7) },
		block: `
			ac02f42b010112c06eca8e52123f65e2481486c6ae57b84de148f52a79f4061f7c03f93c44900990115c1b3f075ec96b
			531237e4f0819008779f84917d36e8664bb800fceef9479ad8ee44e5b75489f3e0a98d23c51a1cbe089d53bf7ccd57c4
			1f333b9aea488b92ef60c486abdfb35fedb0d32b193806dd5106f75e6a079d5004b1267b5d149b273d97e3774b98e78d
			45fefcff32b98470e4886ead43645a2d5ded08276609f4511cb195909c7f904bbac57a9393cdb537182ffdb597d2721e
			a3baa6b11ff4f6970463709297337468dd5f7818e093d9a0c3d87ca09382c68a4f344c0af24d785bc9fcf10c6238bddd
			9cb95bc2e10507f2da8e4f55b628a07d8c51dd7641297bce6b16838e25677ca82e4d436048d5d4d7458652298cd0e090
			dbda1336b5ffb21509d4e042c84c9dff2b
`,
		frame: `
			ff060000734e6150705901300100db821c010112c06eca8e52123f65e2481486c6ae57b84de148f52a79f4061f7c03f9
			3c44900990115c1b3f075ec96b531237e4f0819008779f84917d36e8664bb800fceef9479ad8ee44e5b75489f3e0a98d
			23c51a1cbe089d53bf7ccd57c41f333b9aea488b92ef60c486abdfb35fedb0d32b193806dd5106f75e6a079d5004b126
			7b5d149b273d97e3774b98e78d45fefcff32b98470e4886ead43645a2d5ded08276609f4511cb195909c7f904bbac57a
			9393cdb537182ffdb597d2721ea3baa6b11ff4f6970463709297337468dd5f7818e093d9a0c3d87ca09382c68a4f344c
			0af24d785bc9fcf10c6238bddd9cb95bc2e10507f2da8e4f55b628a07d8c51dd7641297bce6b16838e25677ca82e4d43
			6048d5d4d7458652298cd0e090dbda1336b5ffb21509d4e042c84c9dff2b
`,
	},
	{
		name:  "mixed1500",
		input: func() []byte { return snappyTestMixed(1500, 11) },
		block: `
			dc0bb06368616e6e656c206368756e6b203833363939207075626c697368207b226964223a2068656172746265617420
			112d1034313735390d3334746865200a20373337323120746f153c1c636f6e73756d65721511007d150a096b114c0c6f
			66200a151b2838303233352036333431310119042c20118404746f01030d910d070948199e2035313936312033373015
			9c1c6964656e746966790d2b186d6573736167651d3304746f0164187d20746f70696305cb2470726f6475636572200a
			050f10313035333815ac114114736e617070790d3611152109313a15791037303533391d71152d0571042c200103152d
			3113283937303537206672616d651514007d1175391409211034313931300d8b390c291c103731373533214910343533
			353019dc2831323433392038333338360d2a103237383134012a3500007d016a10333830383015841da9412d347d2032
			333031322039383530372001ff11c131072d28080a200a1d9b15462dc709c71031313833390d8d291d55421038343531
			37190f200a203930393636200a01af19f2190a0d760d5f118c1577095e083332361d5431970d3401cc099711d20d1910
			34373835371553043432612e2433383635362034303530392a297f014715770c3631373465223a5300042c201512152c
			0d6e0140112e1108152451b51119352f0831323001db71d8006f6d88046f660dfa11ec29081128393f10333636313361
			1a09c51571382c20200a203532383831203939373901cc61350dac5538046f66353b4125046f661d5b1965152f190936
			75041034343036380d4a09aa11b8042c200d112de815420c2c20207d0db5303331303239200a203438393031153a350c
			215911700c3539363505110dc90c3132303801dc1dad490b0986007d1177046f6619503145042c20392f0935000a2149
			116b354b0180103234393336011e103636323932051315ca297a09065ef700117415d5155e206964656e7469667920
`,
		frame: `
			ff060000734e6150705900d30200e45e2453dc0bb06368616e6e656c206368756e6b203833363939207075626c697368
			207b226964223a2068656172746265617420112d1034313735390d3334746865200a20373337323120746f153c1c636f
			6e73756d65721511007d150a096b114c0c6f66200a151b2838303233352036333431310119042c20118404746f01030d
			910d070948199e20353139363120333730159c1c6964656e746966790d2b186d6573736167651d3304746f0164187d20
			746f70696305cb2470726f6475636572200a050f10313035333815ac114114736e617070790d3611152109313a157910
			37303533391d71152d0571042c200103152d3113283937303537206672616d651514007d117539140921103431393130
			0d8b390c291c103731373533214910343533353019dc2831323433392038333338360d2a103237383134012a3500007d
			016a10333830383015841da9412d347d2032333031322039383530372001ff11c131072d28080a200a1d9b15462dc709
			c71031313833390d8d291d5542103834353137190f200a203930393636200a01af19f2190a0d760d5f118c1577095e08
			3332361d5431970d3401cc099711d20d191034373835371553043432612e2433383635362034303530392a297f014715
			770c3631373465223a5300042c201512152c0d6e0140112e1108152451b51119352f0831323001db71d8006f6d88046f
			660dfa11ec29081128393f103336363133611a09c51571382c20200a203532383831203939373901cc61350dac553804
			6f66353b4125046f661d5b1965152f19093675041034343036380d4a09aa11b8042c200d112de815420c2c20207d0db5
			303331303239200a203438393031153a350c215911700c3539363505110dc90c3132303801dc1dad490b0986007d1177
			046f6619503145042c20392f0935000a2149116b354b0180103234393336011e103636323932051315ca297a09065ef7
			00117415d5155e206964656e7469667920
`,
	},
	{
		name:  "text70000",
		input: func() []byte { return snappyTestText(70000) },
		block: snappyNotRecorded,
		frame: `
			ff060000734e6150705900430c00cf45a8d2808004986c696e6520303a2074686520717569636b2062726f776e20666f
			78206a756d7073206f76657220011f206c617a7920646f670a05340031ca34000032ca34000033ca3400fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000
			fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000aad0000012010077767a8af022a86b206272
			6f776e20666f78206a756d7073206f76657220746865206c617a7920646f670a6c696e6520313a05150c71756963a234
			0004323ac634000033ca34000030ca3400fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fe
			d000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fe
			d000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fe
			d000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fed000fe
			d000fed000fed000fed000fed000fed000fed000dad000
`,
	},
}

// TestSnappyGoldenBlock decodes golang/snappy block encodings.
func TestSnappyGoldenBlock(t *testing.T) {
	for _, tc := range snappyGolden {
		if tc.block == snappyNotRecorded {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			want := tc.input()
			enc := snappyHex(t, tc.block)
			n, _, err := snappyDecodedLen(enc)
			if err != nil || n != uint64(len(want)) {
				t.Fatalf("snappyDecodedLen = %d, %v; want %d", n, err, len(want))
			}
			got, err := snappyDecodeBlockLimit(nil, enc, snappyMaxBlockSize)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("decode mismatch")
			}
			// Our own encoding must round trip too.
			ours := snappyEncodeBlock(nil, want)
			got, err = snappyDecodeBlock(nil, ours)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("round trip of our encoding failed: %v", err)
			}
		})
	}
}

// TestSnappyGoldenFrame reads golang/snappy framing streams with partial
// reads.
func TestSnappyGoldenFrame(t *testing.T) {
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"plain", func(r io.Reader) io.Reader { return r }},
		{"onebyte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"dataerr", iotest.DataErrReader},
	}
	sawCompressed := false
	for _, tc := range snappyGolden {
		stream := snappyHex(t, tc.frame)
		for _, c := range snappyTestParseChunks(t, stream) {
			if c.typ == snappyChunkCompressed {
				sawCompressed = true
			}
		}
		for _, rd := range readers {
			t.Run(tc.name+"/"+rd.name, func(t *testing.T) {
				got, err := io.ReadAll(newSnappyReader(rd.wrap(bytes.NewReader(stream))))
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

// TestSnappyBlockRoundTrip encodes and decodes assorted inputs, also
// appending to non-empty destination slices.
func TestSnappyBlockRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one", []byte{'x'}},
		{"fifteen", []byte("abcabcabcabcabc")},
		{"sixteen", []byte("abcabcabcabcabca")},
		{"random1000", snappyTestRandom(1000, 1)},
		{"zeros4096", make([]byte, 4096)},
		{"mixed4097", snappyTestMixed(4097, 2)},
		{"text64k", snappyTestText(65536)},
		{"random64k+1", snappyTestRandom(65537, 3)},
		{"mixed1m", snappyTestMixed(1<<20, 4)},
		{"zeros200k", make([]byte, 200000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := snappyEncodeBlock([]byte("pre"), tc.data)
			if string(enc[:3]) != "pre" {
				t.Fatal("encoder clobbered dst prefix")
			}
			enc = enc[3:]
			if len(enc) > snappyMaxEncodedLen(len(tc.data)) {
				t.Fatalf("encoded %d bytes, bound %d", len(enc), snappyMaxEncodedLen(len(tc.data)))
			}
			dec, err := snappyDecodeBlock([]byte("xyz"), enc)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if string(dec[:3]) != "xyz" || !bytes.Equal(dec[3:], tc.data) {
				t.Fatal("round trip mismatch")
			}
		})
	}
}

// TestSnappyCompresses checks the encoder's compression on repetitive
// input, both as a block and through the framing writer.
func TestSnappyCompresses(t *testing.T) {
	tests := []struct {
		name     string
		data     []byte
		maxRatio float64
	}{
		{"repeated text", snappyTestText(65536), 0.10},
		{"repeated phrase", bytes.Repeat([]byte("PUB topic 12 hello world\n"), 65536/25), 0.10},
		{"zeros", make([]byte, 65536), 0.10},
		{"mixed text", snappyTestMixed(65536, 9), 0.75},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := snappyEncodeBlock(nil, tc.data)
			ratio := float64(len(enc)) / float64(len(tc.data))
			t.Logf("%d -> %d bytes (%.2f%%)", len(tc.data), len(enc), 100*ratio)
			if ratio >= tc.maxRatio {
				t.Fatalf("block ratio %.3f, want < %.3f", ratio, tc.maxRatio)
			}
			var buf bytes.Buffer
			w := newSnappyWriter(&buf)
			if _, err := w.Write(tc.data); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if r := float64(buf.Len()) / float64(len(tc.data)); r >= tc.maxRatio {
				t.Fatalf("frame ratio %.3f, want < %.3f", r, tc.maxRatio)
			}
		})
	}
}

// TestSnappyFramingRoundTrip pushes inputs through the writer with
// different write patterns and reads them back with partial reads.
func TestSnappyFramingRoundTrip(t *testing.T) {
	inputs := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one", []byte{0x42}},
		{"random", snappyTestRandom(10000, 5)},
		{"compressible", snappyTestText(100000)},
		{"64k", snappyTestMixed(65536, 6)},
		{"64k+1", snappyTestMixed(65537, 7)},
		{"1m", snappyTestMixed(1<<20, 8)},
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
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"plain", func(r io.Reader) io.Reader { return r }},
		{"onebyte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
	}
	for _, in := range inputs {
		for _, wr := range writes {
			var stream bytes.Buffer
			sw := newSnappyWriter(&stream)
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
			for _, c := range snappyTestParseChunks(t, stream.Bytes()) {
				if c.typ != snappyChunkStreamID && len(c.payload) > snappyMaxChunkPayload {
					t.Fatalf("%s/%s: chunk payload of %d bytes", in.name, wr.name, len(c.payload))
				}
			}
			for _, rd := range readers {
				t.Run(in.name+"/"+wr.name+"/"+rd.name, func(t *testing.T) {
					r := newSnappyReader(rd.wrap(bytes.NewReader(stream.Bytes())))
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

// TestSnappyReaderIOTest runs the generic reader checks of testing/iotest.
func TestSnappyReaderIOTest(t *testing.T) {
	data := snappyTestMixed(150000, 10)
	var stream bytes.Buffer
	w := newSnappyWriter(&stream)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(newSnappyReader(bytes.NewReader(stream.Bytes())), data); err != nil {
		t.Fatal(err)
	}
}

// TestSnappyDecodeBlockCorrupt feeds malformed blocks to the decoder.
func TestSnappyDecodeBlockCorrupt(t *testing.T) {
	tests := []struct {
		name  string
		in    string // hex
		limit int
		want  error
	}{
		{"empty input", "", 100, errSnappyCorrupt},
		{"varint truncated", "80", 100, errSnappyCorrupt},
		{"varint overflow six bytes", "ffffffffff01", 1 << 30, errSnappyCorrupt},
		{"varint above 2^32-1", "ffffffff1f", 1 << 30, errSnappyCorrupt},
		{"varint overlong zero", "8080808000", 100, nil},
		{"declared above limit", "818004" + strings.Repeat("fe0100", 1100), snappyMaxBlockSize, errSnappyTooLarge},
		{"declared length impossible", "e40700", snappyMaxBlockSize, errSnappyCorrupt},
		{"copy-1 offset zero", "05006101 00", 100, errSnappyCorrupt},
		{"copy-1 offset before start", "0500610102", 100, errSnappyCorrupt},
		{"copy-1 long offset before start", "102c 6162636465666768696a6b6c e1ff", 100, errSnappyCorrupt},
		{"copy-2 offset before start", "030061060500", 100, errSnappyCorrupt},
		{"copy-2 offset zero", "030061060000", 100, errSnappyCorrupt},
		{"copy-4 offset before start", "03006107 02000000", 100, errSnappyCorrupt},
		{"copy-4 huge offset", "03006107 ffffffff", 100, errSnappyCorrupt},
		{"copy first", "0401 01", 100, errSnappyCorrupt},
		{"literal past end of input", "0a246162", 100, errSnappyCorrupt},
		{"literal longer than declared", "01046162", 100, errSnappyCorrupt},
		{"copy longer than declared", "0500610501", 100, errSnappyCorrupt},
		{"output shorter than declared", "030061", 100, errSnappyCorrupt},
		{"trailing bytes", "0100616263", 100, errSnappyCorrupt},
		{"truncated literal length", "0af0", 100, errSnappyCorrupt},
		{"truncated two-byte literal length", "0af400", 100, errSnappyCorrupt},
		{"huge literal length", "0afcffffffff61", 100, errSnappyCorrupt},
		{"truncated copy-1", "05006101", 100, errSnappyCorrupt},
		{"truncated copy-2", "0500610601", 100, errSnappyCorrupt},
		{"truncated copy-4", "050061070100", 100, errSnappyCorrupt},
		{"negative limit", "00", -1, errSnappyTooLarge},
		{"valid overlapping copy", "0a00611501", 100, nil},
		{"valid copy-4", "0708616263 0f03000000", 100, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := snappyHex(t, tc.in)
			dst := []byte("keep")
			got, err := snappyDecodeBlockLimit(dst, in, tc.limit)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err != nil && (len(got) != len(dst) || string(got) != "keep") {
				t.Fatalf("dst changed on error: %q", got)
			}
		})
	}
}

// TestSnappyDecodeBlockValid checks hand-built blocks, including copy-4
// and overlapping copies that our encoder does not emit.
func TestSnappyDecodeBlockValid(t *testing.T) {
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
			got, err := snappyDecodeBlock(nil, snappyHex(t, tc.in))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if string(got) != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSnappyDecodeBlockNoAlloc checks that the decoder does not allocate
// when dst has room, nor for a declared length the input cannot produce.
func TestSnappyDecodeBlockNoAlloc(t *testing.T) {
	data := snappyTestMixed(65536, 12)
	enc := snappyEncodeBlock(nil, data)
	dst := make([]byte, 0, len(data))
	bogus := snappyHex(t, "808004 0000")
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := snappyDecodeBlock(dst, enc); err != nil {
			t.Fatal(err)
		}
		if _, err := snappyDecodeBlockLimit(nil, bogus, snappyMaxBlockSize); err == nil {
			t.Fatal("bogus block accepted")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
	enc2 := make([]byte, 0, snappyMaxEncodedLen(len(data)))
	allocs = testing.AllocsPerRun(20, func() {
		enc2 = snappyEncodeBlock(enc2[:0], data)
	})
	if allocs != 0 {
		t.Fatalf("encode: %v allocations per run, want 0", allocs)
	}
}

// TestSnappyReaderCorrupt feeds malformed framing streams to the reader.
func TestSnappyReaderCorrupt(t *testing.T) {
	hello := []byte("hello, world")
	big := make([]byte, snappyMaxBlockSize+1)
	tests := []struct {
		name     string
		stream   []byte
		wantData string
		want     error
	}{
		{"bad crc uncompressed", snappyTestStream(snappyTestDataChunk(1, hello, 1)), "", errSnappyChecksum},
		{"bad crc compressed", snappyTestStream(snappyTestDataChunk(0, hello, 0x100)), "", errSnappyChecksum},
		{"bad crc second chunk", snappyTestStream(snappyTestDataChunk(0, hello, 0), snappyTestDataChunk(1, hello, 7)), "hello, world", errSnappyChecksum},
		{"bad stream identifier", append([]byte("\xff\x06\x00\x00sNaPpX"), snappyTestDataChunk(1, hello, 0)...), "", errSnappyNoStreamID},
		{"stream identifier wrong length", append([]byte("\xff\x05\x00\x00sNaPp"), snappyTestDataChunk(1, hello, 0)...), "", errSnappyNoStreamID},
		{"bad repeated stream identifier", snappyTestStream(snappyTestDataChunk(1, hello, 0), []byte("\xff\x06\x00\x00SNAPPY")), "hello, world", errSnappyNoStreamID},
		{"missing stream identifier", snappyTestDataChunk(1, hello, 0), "", errSnappyNoStreamID},
		{"padding before stream identifier", append(snappyTestChunk(0xfe, []byte{0}), snappyStreamID...), "", errSnappyNoStreamID},
		{"unskippable 0x02", snappyTestStream(snappyTestChunk(0x02, []byte("xx"))), "", errSnappyUnskippable},
		{"unskippable 0x7f", snappyTestStream(snappyTestDataChunk(0, hello, 0), snappyTestChunk(0x7f, nil)), "hello, world", errSnappyUnskippable},
		{"truncated stream identifier", []byte(snappyStreamID[:7]), "", io.ErrUnexpectedEOF},
		{"truncated chunk header", snappyTestStream([]byte{0x01, 0x10}), "", io.ErrUnexpectedEOF},
		{"truncated chunk payload", snappyTestStream(snappyTestDataChunk(1, hello, 0)[:10]), "", io.ErrUnexpectedEOF},
		{"truncated checksum", snappyTestStream(snappyTestDataChunk(1, hello, 0)[:6]), "", io.ErrUnexpectedEOF},
		{"truncated compressed chunk", snappyTestStream(snappyTestDataChunk(0, hello, 0)[:12]), "", io.ErrUnexpectedEOF},
		{"truncated skippable chunk", snappyTestStream(snappyTestChunk(0x80, make([]byte, 100))[:50]), "", io.ErrUnexpectedEOF},
		{"compressed chunk declaring > 65536", snappyTestStream(snappyTestDataChunk(0, big, 0)), "", errSnappyTooLarge},
		{"compressed chunk too long", snappyTestStream([]byte{0x00, 0xff, 0xff, 0xff}), "", errSnappyTooLarge},
		{"uncompressed chunk > 65536", snappyTestStream(snappyTestDataChunk(1, big, 0)), "", errSnappyTooLarge},
		{"compressed chunk without checksum", snappyTestStream(snappyTestChunk(0, []byte{1, 2, 3})), "", errSnappyCorrupt},
		{"uncompressed chunk without checksum", snappyTestStream(snappyTestChunk(1, []byte{1})), "", errSnappyCorrupt},
		{"compressed payload copy before start", snappyTestStream(snappyTestChunk(0, snappyHex(t, "00000000 0500610102"))), "", errSnappyCorrupt},
		{"compressed payload varint overflow", snappyTestStream(snappyTestChunk(0, snappyHex(t, "00000000 ffffffffff01"))), "", errSnappyCorrupt},
		{"compressed payload empty", snappyTestStream(snappyTestChunk(0, snappyHex(t, "00000000"))), "", errSnappyCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newSnappyReader(iotest.HalfReader(bytes.NewReader(tc.stream)))
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

// TestSnappyReaderSkips checks padding, skippable chunks, repeated stream
// identifiers and empty data chunks.
func TestSnappyReaderSkips(t *testing.T) {
	a, b, c := []byte("first "), snappyTestText(3000), []byte(" last")
	stream := snappyTestStream(
		snappyTestChunk(0xfe, make([]byte, 100)),
		snappyTestDataChunk(1, a, 0),
		snappyTestChunk(0x80, snappyTestRandom(200000, 3)),
		[]byte(snappyStreamID),
		snappyTestDataChunk(1, nil, 0),
		snappyTestDataChunk(0, nil, 0),
		snappyTestDataChunk(0, b, 0),
		snappyTestChunk(0xfd, nil),
		snappyTestChunk(0xfe, nil),
		snappyTestDataChunk(1, c, 0),
	)
	want := string(a) + string(b) + string(c)
	for _, wrap := range []func(io.Reader) io.Reader{iotest.OneByteReader, iotest.HalfReader, iotest.DataErrReader} {
		got, err := io.ReadAll(newSnappyReader(wrap(bytes.NewReader(stream))))
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if string(got) != want {
			t.Fatalf("got %d bytes, want %d", len(got), len(want))
		}
	}
	// An empty stream, or one with only the identifier, is empty.
	for _, s := range []string{"", snappyStreamID, snappyStreamID + snappyStreamID} {
		got, err := io.ReadAll(newSnappyReader(strings.NewReader(s)))
		if err != nil || len(got) != 0 {
			t.Fatalf("ReadAll(%q) = %q, %v", s, got, err)
		}
	}
}

// TestSnappyReaderBoundedBuffers checks that the reader's buffers stay
// small for small chunks and never exceed the chunk limits, even for a
// skippable chunk of the largest encodable length.
func TestSnappyReaderBoundedBuffers(t *testing.T) {
	tests := []struct {
		name            string
		stream          []byte
		maxRaw, maxData int
	}{
		{"small chunks", snappyTestStream(snappyTestDataChunk(0, []byte("OK"), 0), snappyTestDataChunk(1, []byte("E_INVALID"), 0)), 4096, 4096},
		{"huge skippable", snappyTestStream(snappyTestChunk(0x99, make([]byte, 1<<24-1)), snappyTestDataChunk(1, []byte("x"), 0)), snappyMaxChunkPayload, 4096},
		{"full blocks", snappyTestStream(snappyTestDataChunk(1, snappyTestRandom(65536, 1), 0), snappyTestDataChunk(0, snappyTestText(65536), 0)), snappyMaxChunkPayload, snappyMaxBlockSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newSnappyReader(bytes.NewReader(tc.stream))
			if _, err := io.Copy(io.Discard, r); err != nil {
				t.Fatal(err)
			}
			if cap(r.raw) > tc.maxRaw || cap(r.data) > tc.maxData {
				t.Fatalf("buffers grew to raw %d, data %d; want <= %d, %d", cap(r.raw), cap(r.data), tc.maxRaw, tc.maxData)
			}
		})
	}
}

// snappyErrBlocked is returned by snappyOnceReader once its data is used up.
var snappyErrBlocked = errors.New("read would block")

// snappyOnceReader serves data and then fails, standing in for a
// connection with nothing more to read yet.
type snappyOnceReader struct {
	data  []byte
	calls int
}

// Read implements io.Reader.
func (o *snappyOnceReader) Read(p []byte) (int, error) {
	o.calls++
	if len(o.data) == 0 {
		return 0, snappyErrBlocked
	}
	n := copy(p, o.data)
	o.data = o.data[n:]
	return n, nil
}

// TestSnappyReaderReturnsEarly checks that Read returns the first chunk's
// data without trying to read further chunks.
func TestSnappyReaderReturnsEarly(t *testing.T) {
	first := []byte("OK")
	for _, typ := range []byte{snappyChunkCompressed, snappyChunkUncompressed} {
		src := &snappyOnceReader{data: snappyTestStream(snappyTestDataChunk(typ, first, 0))}
		r := newSnappyReader(src)
		buf := make([]byte, 1000)
		n, err := r.Read(buf)
		if err != nil || string(buf[:n]) != "OK" {
			t.Fatalf("Read = %q, %v", buf[:n], err)
		}
		if len(src.data) != 0 {
			t.Fatalf("chunk not fully consumed")
		}
		if _, err := r.Read(buf); err != snappyErrBlocked {
			t.Fatalf("second Read error = %v, want %v", err, snappyErrBlocked)
		}
	}
}

// snappyRecorder is an io.Writer with a Flush method that records calls.
type snappyRecorder struct {
	bytes.Buffer
	writes, flushes int
	writeErr        error
	flushErr        error
}

// Write implements io.Writer.
func (r *snappyRecorder) Write(p []byte) (int, error) {
	r.writes++
	if r.writeErr != nil {
		return 0, r.writeErr
	}
	return r.Buffer.Write(p)
}

// Flush records the call.
func (r *snappyRecorder) Flush() error {
	r.flushes++
	return r.flushErr
}

// TestSnappyWriterBuffering checks when the writer writes to and flushes
// the underlying writer.
func TestSnappyWriterBuffering(t *testing.T) {
	rec := &snappyRecorder{}
	w := newSnappyWriter(rec)
	msg := []byte("PUB topic\n")
	for range 100 {
		if _, err := w.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	if rec.writes != 0 || rec.flushes != 0 {
		t.Fatalf("small writes reached the underlying writer: %d writes, %d flushes", rec.writes, rec.flushes)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if rec.writes != 1 || rec.flushes != 1 {
		t.Fatalf("after Flush: %d writes, %d flushes; want 1, 1", rec.writes, rec.flushes)
	}
	if !bytes.HasPrefix(rec.Bytes(), []byte(snappyStreamID)) {
		t.Fatal("stream does not start with the identifier")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if rec.writes != 1 || rec.flushes != 2 {
		t.Fatalf("after empty Flush: %d writes, %d flushes; want 1, 2", rec.writes, rec.flushes)
	}
	// A full block goes out without Flush, in one Write.
	if _, err := w.Write(snappyTestRandom(snappyMaxBlockSize-5, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if rec.writes != 2 || rec.flushes != 2 {
		t.Fatalf("after full block: %d writes, %d flushes; want 2, 2", rec.writes, rec.flushes)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	chunks := snappyTestParseChunks(t, rec.Bytes())
	if len(chunks) != 4 {
		t.Fatalf("%d chunks, want 4", len(chunks))
	}
	got, err := io.ReadAll(newSnappyReader(bytes.NewReader(rec.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	want := append(bytes.Repeat(msg, 100), snappyTestRandom(snappyMaxBlockSize-5, 1)...)
	want = append(want, make([]byte, 10)...)
	if !bytes.Equal(got, want) {
		t.Fatal("data mismatch")
	}

	// Flush before any data emits just the identifier.
	rec = &snappyRecorder{}
	if err := newSnappyWriter(rec).Flush(); err != nil {
		t.Fatal(err)
	}
	if rec.String() != snappyStreamID || rec.flushes != 1 {
		t.Fatalf("empty Flush wrote %q, %d flushes", rec.String(), rec.flushes)
	}
}

// TestSnappyWriterChunks checks chunk sizes and the choice between
// compressed and uncompressed chunks.
func TestSnappyWriterChunks(t *testing.T) {
	tests := []struct {
		name      string
		data      []byte
		wantTypes []byte
	}{
		{"random", snappyTestRandom(65536, 2), []byte{1}},
		{"text", snappyTestText(65536), []byte{0}},
		{"text+1", snappyTestText(65537), []byte{0, 1}},
		{"random+text", append(snappyTestRandom(65536, 3), snappyTestText(65536*2+100)...), []byte{1, 0, 0, 0}},
		{"mixed", snappyTestMixed(200000, 4), []byte{0, 0, 0, 0}},
		{"tiny", []byte("abc"), []byte{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := newSnappyWriter(&buf)
			for p := tc.data; len(p) > 0; {
				k := min(10000, len(p))
				if _, err := w.Write(p[:k]); err != nil {
					t.Fatal(err)
				}
				p = p[k:]
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			chunks := snappyTestParseChunks(t, buf.Bytes())
			if len(chunks) == 0 || chunks[0].typ != snappyChunkStreamID {
				t.Fatal("missing stream identifier")
			}
			var types []byte
			total := 0
			for _, c := range chunks[1:] {
				types = append(types, c.typ)
				var data []byte
				switch c.typ {
				case snappyChunkCompressed:
					var err error
					data, err = snappyDecodeBlockLimit(nil, c.payload[4:], snappyMaxBlockSize)
					if err != nil {
						t.Fatal(err)
					}
					if len(c.payload)-4 >= len(data)-len(data)/8 {
						t.Fatalf("compressed chunk saves too little: %d -> %d", len(data), len(c.payload)-4)
					}
				case snappyChunkUncompressed:
					data = c.payload[4:]
					if enc := snappyEncodeBlock(nil, data); len(enc) < len(data)-len(data)/8 {
						t.Fatalf("uncompressed chunk would compress: %d -> %d", len(data), len(enc))
					}
				default:
					t.Fatalf("unexpected chunk type %#x", c.typ)
				}
				if len(data) == 0 || len(data) > snappyMaxBlockSize {
					t.Fatalf("chunk holds %d bytes", len(data))
				}
				if binary.LittleEndian.Uint32(c.payload) != snappyMaskedCRC(data) {
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

// TestSnappyWriterErrors checks that write and flush errors are reported
// and sticky.
func TestSnappyWriterErrors(t *testing.T) {
	errWrite := errors.New("write failed")
	errFlush := errors.New("flush failed")
	tests := []struct {
		name string
		rec  *snappyRecorder
		big  bool // trigger the error from Write rather than Flush
		want error
	}{
		{"write error on flush", &snappyRecorder{writeErr: errWrite}, false, errWrite},
		{"write error on full block", &snappyRecorder{writeErr: errWrite}, true, errWrite},
		{"flush error", &snappyRecorder{flushErr: errFlush}, false, errFlush},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newSnappyWriter(tc.rec)
			var err error
			if tc.big {
				_, err = w.Write(make([]byte, 2*snappyMaxBlockSize))
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

// TestSnappySteadyStateAllocs checks that the writer and reader reuse
// their buffers once warmed up.
func TestSnappySteadyStateAllocs(t *testing.T) {
	block := snappyTestMixed(snappyMaxBlockSize, 13)
	w := newSnappyWriter(io.Discard)
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

	var stream bytes.Buffer
	sw := newSnappyWriter(&stream)
	for range 25 {
		if _, err := sw.Write(block); err != nil {
			t.Fatal(err)
		}
		if _, err := sw.Write(snappyTestRandom(1000, 1)); err != nil {
			t.Fatal(err)
		}
		if err := sw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	r := newSnappyReader(bytes.NewReader(stream.Bytes()))
	buf := make([]byte, len(block)+1000)
	allocs = testing.AllocsPerRun(20, func() {
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("reader: %v allocations per run, want 0", allocs)
	}
}

// FuzzSnappyDecodeBlock checks that arbitrary input never makes the block
// decoder or the framing reader panic or misbehave.
func FuzzSnappyDecodeBlock(f *testing.F) {
	for _, tc := range snappyGolden {
		if tc.block != snappyNotRecorded {
			f.Add(snappyHex(f, tc.block))
		}
	}
	for _, s := range []string{"", "00", "0500610102", "ffffffffff01", "0708616263 0f03000000", "0a00611501", "0afcffffffff61"} {
		f.Add(snappyHex(f, s))
	}
	f.Add(snappyEncodeBlock(nil, snappyTestMixed(5000, 1)))
	const limit = 1 << 18
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := snappyDecodeBlockLimit(nil, data, limit)
		n, _, lenErr := snappyDecodedLen(data)
		if err == nil {
			if lenErr != nil || uint64(len(out)) != n {
				t.Fatalf("decoded %d bytes, declared %d (%v)", len(out), n, lenErr)
			}
			enc := snappyEncodeBlock(nil, out)
			back, err := snappyDecodeBlock(nil, enc)
			if err != nil || !bytes.Equal(back, out) {
				t.Fatalf("re-encode round trip failed: %v", err)
			}
		} else if lenErr == nil && n > limit && !errors.Is(err, errSnappyTooLarge) {
			t.Fatalf("declared %d above limit gave %v", n, err)
		}
		// Decoding after a prefix must give the same verdict and leave the
		// prefix alone.
		out2, err2 := snappyDecodeBlockLimit([]byte("prefix"), data, limit)
		if (err == nil) != (err2 == nil) || string(out2[:6]) != "prefix" || (err == nil && !bytes.Equal(out2[6:], out)) {
			t.Fatalf("prefix decode differs: %v vs %v", err, err2)
		}
		// The framing reader must cope with the same bytes as a stream and
		// as a compressed chunk payload.
		_, _ = io.Copy(io.Discard, newSnappyReader(bytes.NewReader(data)))
		stream := snappyTestStream(data)
		_, _ = io.Copy(io.Discard, newSnappyReader(iotest.HalfReader(bytes.NewReader(stream))))
		crc := binary.LittleEndian.AppendUint32(nil, snappyMaskedCRC(out))
		chunk := snappyTestStream(snappyTestChunk(0, append(crc, data...)))
		got, err := io.ReadAll(newSnappyReader(bytes.NewReader(chunk)))
		if err == nil && !bytes.Equal(got, out) {
			t.Fatal("chunk decode differs from block decode")
		}
	})
}

// FuzzSnappyRoundTrip checks that block and framing encodings of arbitrary
// input decode back to it.
func FuzzSnappyRoundTrip(f *testing.F) {
	f.Add([]byte(nil), uint16(0))
	f.Add([]byte("a"), uint16(1))
	f.Add([]byte("Hello, snappy! Hello, snappy! Hello, snappy!"), uint16(5))
	f.Add(snappyTestRandom(300, 7), uint16(100))
	f.Add(snappyTestMixed(3000, 11), uint16(999))
	f.Add(snappyTestText(3000), uint16(2047))
	f.Fuzz(func(t *testing.T, data []byte, step uint16) {
		enc := snappyEncodeBlock(nil, data)
		if len(enc) > snappyMaxEncodedLen(len(data)) {
			t.Fatalf("encoded %d bytes, bound %d", len(enc), snappyMaxEncodedLen(len(data)))
		}
		dec, err := snappyDecodeBlock(nil, enc)
		if err != nil || !bytes.Equal(dec, data) {
			t.Fatalf("block round trip failed: %v", err)
		}
		var stream bytes.Buffer
		w := newSnappyWriter(&stream)
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
		got, err := io.ReadAll(newSnappyReader(iotest.HalfReader(bytes.NewReader(stream.Bytes()))))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("framing round trip failed: %v", err)
		}
	})
}

// BenchmarkSnappyEncode measures block encoding of 64 KiB of mixed text.
func BenchmarkSnappyEncode(b *testing.B) {
	data := snappyTestMixed(snappyMaxBlockSize, 42)
	dst := make([]byte, 0, snappyMaxEncodedLen(len(data)))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		dst = snappyEncodeBlock(dst[:0], data)
	}
	b.ReportMetric(100*float64(len(dst))/float64(len(data)), "%size")
}

// BenchmarkSnappyDecode measures block decoding of 64 KiB of mixed text.
func BenchmarkSnappyDecode(b *testing.B) {
	data := snappyTestMixed(snappyMaxBlockSize, 42)
	enc := snappyEncodeBlock(nil, data)
	dst := make([]byte, 0, len(data))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = snappyDecodeBlock(dst[:0], enc); err != nil {
			b.Fatal(err)
		}
	}
}
