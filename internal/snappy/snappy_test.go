package snappy

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// testRandom returns n pseudo-random (incompressible) bytes derived from
// seed with a xorshift generator.
func testRandom(n int, seed uint64) []byte {
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

// testText returns n bytes of highly repetitive text.
func testText(n int) []byte {
	var b []byte
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, "line %d: the quick brown fox jumps over the lazy dog\n", i%4)
	}
	return b[:n]
}

// testWords is the vocabulary of testMixed.
var testWords = []string{"nsq", "publish", "topic", "channel", "message", "snappy", "the", "a", "of", "to", "frame", "chunk", "producer", "consumer", "deflate", "identify", "heartbeat", "\n", "{\"id\":", "}", ", "}

// testMixed returns n bytes of moderately compressible text: words from a
// small vocabulary mixed with pseudo-random numbers.
func testMixed(n int, seed uint64) []byte {
	var b []byte
	x := seed | 1
	for len(b) < n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		if x%7 == 0 {
			b = fmt.Appendf(b, "%d", x%100000)
		} else {
			b = append(b, testWords[x%uint64(len(testWords))]...)
		}
		b = append(b, ' ')
	}
	return b[:n]
}

// unhex decodes a hex string that may contain white space.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex: %v", err)
	}
	return b
}

// testChunk builds a framing chunk of type typ with the given payload.
func testChunk(typ byte, payload []byte) []byte {
	n := len(payload)
	return append([]byte{typ, byte(n), byte(n >> 8), byte(n >> 16)}, payload...)
}

// testDataChunk builds a compressed (typ 0) or uncompressed (typ 1) chunk
// holding data, whose checksum field is the correct one plus crcDelta.
func testDataChunk(typ byte, data []byte, crcDelta uint32) []byte {
	payload := binary.LittleEndian.AppendUint32(nil, MaskedCRC(data)+crcDelta)
	if typ == ChunkCompressed {
		payload = EncodeBlock(payload, data)
	} else {
		payload = append(payload, data...)
	}
	return testChunk(typ, payload)
}

// testStream concatenates the stream identifier and the given chunks.
func testStream(chunks ...[]byte) []byte {
	s := []byte(StreamID)
	for _, c := range chunks {
		s = append(s, c...)
	}
	return s
}

// chunkInfo describes one chunk of a framing stream.
type chunkInfo struct {
	typ     byte
	payload []byte
}

// parseChunks splits a framing stream into its chunks.
func parseChunks(t testing.TB, stream []byte) []chunkInfo {
	t.Helper()
	var out []chunkInfo
	for len(stream) > 0 {
		if len(stream) < 4 {
			t.Fatalf("truncated chunk header")
		}
		n := int(stream[1]) | int(stream[2])<<8 | int(stream[3])<<16
		if len(stream) < 4+n {
			t.Fatalf("truncated chunk")
		}
		out = append(out, chunkInfo{stream[0], stream[4 : 4+n]})
		stream = stream[4+n:]
	}
	return out
}

// writeStream returns the framing-format encoding of data made by a Writer
// that is given step bytes per Write call and flushed once at the end.
func writeStream(t testing.TB, data []byte, step int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for p := data; len(p) > 0; {
		k := min(step, len(p))
		if n, err := w.Write(p[:k]); n != k || err != nil {
			t.Fatalf("Write = %d, %v; want %d, nil", n, err, k)
		}
		p = p[k:]
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return buf.Bytes()
}

// partialReaders wrap a stream so that it is served in different pieces.
var partialReaders = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"plain", func(r io.Reader) io.Reader { return r }},
	{"onebyte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"dataerr", iotest.DataErrReader},
}

// notRecorded marks a golden entry without a block encoding.
const notRecorded = "-"

// golden holds encodings produced by github.com/golang/snappy v0.0.4:
// block is snappy.Encode(nil, input) and frame is what
// snappy.NewBufferedWriter wrote for input followed by Close.
var golden = []struct {
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
		input: func() []byte { return testRandom(300, 7) },
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
		input: func() []byte { return testMixed(1500, 11) },
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
		input: func() []byte { return testText(70000) },
		block: notRecorded,
		// Two compressed chunks, mostly runs of the copy element fed000:
		// 64 bytes from 208 back, the period of the text.
		frame: `
			ff060000734e6150705900430c00cf45a8d2808004986c696e6520303a2074686520717569636b2062726f776e20666f
			78206a756d7073206f76657220011f206c617a7920646f670a05340031ca34000032ca34000033ca3400
` + strings.Repeat("fed000", 1020) + `
			aad0000012010077767a8af022a86b2062726f776e20666f78206a756d7073206f76657220746865206c617a7920646f
			670a6c696e6520313a05150c71756963a2340004323ac634000033ca34000030ca3400
` + strings.Repeat("fed000", 65) + "dad000",
	},
}

// TestMaskedCRC checks checksums against those in golang/snappy's framing
// streams of the golden inputs.
func TestMaskedCRC(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want uint32
	}{
		{"empty", nil, crcMaskDelta},
		{"one", []byte("a"), 0x28e46e78},
		{"short", []byte("Hello, snappy! Hello, snappy! Hello, snappy!"), 0x3fbffe83},
		{"random300", testRandom(300, 7), 0x011c82db},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MaskedCRC(tc.data); got != tc.want {
				t.Fatalf("MaskedCRC = %#08x, want %#08x", got, tc.want)
			}
		})
	}
}
