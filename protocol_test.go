package nsqpub

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

func TestReadFrame(t *testing.T) {
	tests := []struct {
		name, in string
		typ      int32
		data     string
		wantErr  error
	}{
		{"ok", "\x00\x00\x00\x06\x00\x00\x00\x00OK", 0, "OK", nil},
		{"error", string(appendFrame(nil, 1, []byte("E_INVALID x"))), 1, "E_INVALID x", nil},
		{"empty data", "\x00\x00\x00\x04\x00\x00\x00\x00", 0, "", nil},
		{"size below 4", "\x00\x00\x00\x03\x00\x00\x00", 0, "", anyProtocolError},
		{"size huge", "\x7f\xff\xff\xff\x00\x00\x00\x00", 0, "", anyProtocolError},
		{"HTTP reply", "HTTP/1.1 400 Bad Request\r\n\r\n", 0, "", anyProtocolError},
		{"eof", "", 0, "", io.EOF},
		{"eof in header", "\x00\x00\x00\x06\x00\x00", 0, "", io.ErrUnexpectedEOF},
		{"eof in data", "\x00\x00\x00\x06\x00\x00\x00\x00O", 0, "", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, data, _, err := readFrame(strings.NewReader(tt.in), nil, 1024)
			if !matches(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (typ != tt.typ || string(data) != tt.data) {
				t.Fatalf("got (%d, %q), want (%d, %q)", typ, data, tt.typ, tt.data)
			}
		})
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x06\x00\x00\x00\x00OK"))
	f.Add(appendFrame(nil, 1, []byte("E_BAD_TOPIC E_BAD_TOPIC MPUB topic name \"a:b\" is not valid")))
	f.Add(appendFrame(appendFrame(nil, 0, []byte("_heartbeat_")), 0, []byte("OK")))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n"))
	f.Add([]byte("\xff\xff\xff\xff\x00\x00\x00\x02"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		var buf []byte
		for {
			typ, data, b, err := readFrame(r, buf, 256)
			buf = b
			if err != nil {
				return
			}
			if len(data) > 256 || cap(buf) > 256 {
				t.Fatalf("frame of %d bytes (buffer %d) exceeds the limit", len(data), cap(buf))
			}
			if typ == frameTypeError {
				if e := parseServerError(data); e.Code == "" && len(data) > 0 && data[0] != ' ' {
					t.Fatalf("no code parsed from %q", data)
				}
			}
		}
	})
}

// TestReadFrameReusesBuffer: reading frames into a large enough buffer
// allocates nothing.
func TestReadFrameReusesBuffer(t *testing.T) {
	var in []byte
	for i := 0; i < 100; i++ {
		in = appendFrame(in, 0, []byte("OK"))
	}
	r := bytes.NewReader(in)
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(1, func() {
		r.Reset(in)
		for {
			_, _, b, err := readFrame(r, buf, 1024)
			if err != nil {
				break
			}
			buf = b
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations reading 100 frames", allocs)
	}
}

// Hostile server bytes: after a valid handshake, a broken or foreign server
// sends garbage, wrong or huge sizes, non-UTF-8 data, an HTTP reply, unknown
// frame types, message frames, an error frame with nothing in flight, or a
// response before any command. readFrame must reject a size beyond its limit
// without allocating it; the connection tests (conn_test.go) check that a
// connection given these bytes ends with a clear error, never a panic.

// sizeHeader is a frame header declaring size and frame type typ.
func sizeHeader(size uint32, typ int32) []byte {
	b := binary.BigEndian.AppendUint32(nil, size)
	return binary.BigEndian.AppendUint32(b, uint32(typ))
}

// hostileCase is one bad byte stream a server sends after the handshake.
type hostileCase struct {
	name     string
	data     []byte
	want     error  // the connection's error wraps it; nil for an error frame (a *ServerError)
	text     string // the connection's error contains it
	declared uint32 // a frame size larger than maxFrameSize, never to be allocated
}

var hostileCases = []hostileCase{
	{name: "garbage", data: []byte("\x13\x37\xde\xadthis is not an NSQ frame at all"), want: anyProtocolError, text: "frame size", declared: 0x1337dead},
	{name: "garbage with a small size", data: []byte("\x00\x00\x00\x07zzzzzzz"), want: anyProtocolError, text: "unexpected frame type"},
	{name: "size 0", data: sizeHeader(0, 0), want: anyProtocolError, text: "frame size 0"},
	{name: "size 3", data: []byte("\x00\x00\x00\x03abc"), want: anyProtocolError, text: "frame size 3"},
	{name: "size larger than the data", data: append(sizeHeader(100, 0), "OK"...), want: io.ErrUnexpectedEOF},
	{name: "size smaller than the data", data: append(sizeHeader(5, 0), "OK"...), want: anyProtocolError, text: `unexpected reply "O"`},
	{name: "truncated size", data: []byte("\x00\x00"), want: io.ErrUnexpectedEOF},
	{name: "truncated type", data: []byte("\x00\x00\x00\x06\x00\x00"), want: io.ErrUnexpectedEOF},
	{name: "size just over the limit", data: sizeHeader(maxFrameSize+5, 0), want: anyProtocolError, text: "frame size", declared: maxFrameSize + 5},
	{name: "size 1 GiB", data: sizeHeader(1<<30, 0), want: anyProtocolError, text: "frame size", declared: 1 << 30},
	{name: "size 2 GiB-1", data: sizeHeader(0x7fffffff, 0), want: anyProtocolError, text: "frame size", declared: 0x7fffffff},
	{name: "size 2 GiB (negative as int32)", data: sizeHeader(0x80000000, 0), want: anyProtocolError, text: "frame size", declared: 0x80000000},
	{name: "size 4 GiB-1", data: sizeHeader(0xffffffff, 0), want: anyProtocolError, text: "frame size", declared: 0xffffffff},
	{name: "non-UTF-8 response", data: appendFrame(nil, frameTypeResponse, []byte("\xff\xfe\xfd\x80")), want: anyProtocolError, text: "unexpected reply"},
	{name: "empty response", data: appendFrame(nil, frameTypeResponse, nil), want: anyProtocolError, text: "unexpected reply"},
	{name: "CLOSE_WAIT", data: appendFrame(nil, frameTypeResponse, []byte("CLOSE_WAIT")), want: anyProtocolError, text: "unexpected reply"},
	{name: "HTTP reply", data: []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), want: anyProtocolError, text: "frame size", declared: 0x48545450},
	{name: "frame type 3", data: appendFrame(nil, 3, []byte("OK")), want: anyProtocolError, text: "unexpected frame type 3"},
	{name: "frame type 7", data: appendFrame(nil, 7, []byte("OK")), want: anyProtocolError, text: "unexpected frame type 7"},
	{name: "frame type -1", data: appendFrame(nil, -1, []byte("OK")), want: anyProtocolError, text: "unexpected frame type -1"},
	{name: "frame type 2^31-1", data: appendFrame(nil, 0x7fffffff, nil), want: anyProtocolError, text: "unexpected frame type"},
	{name: "message frame", data: appendFrame(nil, frameTypeMessage, []byte("\x00\x00\x00\x00\x00\x00\x00\x01\x00\x010123456789abcdefbody")), want: anyProtocolError, text: "unexpected frame type 2"},
	{name: "heartbeat then garbage", data: append(appendFrame(nil, frameTypeResponse, frameHeartbeat), "\xff\xff\xff\xffjunk"...), want: anyProtocolError, text: "frame size", declared: 0xffffffff},
	{name: "non-UTF-8 error frame", data: appendFrame(nil, frameTypeError, []byte("\xff\xfe \x80\x81"))},
	{name: "error frame without code", data: appendFrame(nil, frameTypeError, nil)},
}

// heapAlloc returns the bytes allocated so far by the whole program.
func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// TestHostileFrameNoAllocation: reading a frame that declares a size beyond
// maxFrameSize allocates nothing near that size.
func TestHostileFrameNoAllocation(t *testing.T) {
	for _, hc := range hostileCases {
		if hc.declared == 0 {
			continue
		}
		t.Run(hc.name, func(t *testing.T) {
			r := bytes.NewReader(hc.data)
			before := heapAlloc()
			var err error
			for err == nil {
				_, _, _, err = readFrame(r, nil, maxFrameSize)
			}
			allocated := heapAlloc() - before
			if !errors.As(err, new(ErrProtocol)) {
				t.Fatalf("readFrame: %v, want ErrProtocol", err)
			}
			if allocated > 64<<10 {
				t.Fatalf("allocated %d bytes reading a frame that declares %d", allocated, hc.declared)
			}
		})
	}
}
