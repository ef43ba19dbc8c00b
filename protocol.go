package nsqpub

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// magicV2 is the protocol magic a client writes right after connecting.
const magicV2 = "  V2"

// MagicV2 is the protocol magic a client writes right after connecting to
// nsqd, before any Command, as in go-nsq. It must not be modified.
var MagicV2 = []byte(magicV2)

// MagicV1 is go-nsq's magic of the first protocol version, which nsqd v1
// refuses (E_BAD_PROTOCOL); it is kept so that code naming it compiles. It
// must not be modified.
var MagicV1 = []byte("  V1")

// Frame types sent by nsqd.
const (
	frameTypeResponse int32 = 0
	frameTypeError    int32 = 1
	frameTypeMessage  int32 = 2
)

// maxFrameSize bounds the frames nsqd may send a producer. A producer only
// ever receives short replies (OK, heartbeats, error strings, the IDENTIFY
// and AUTH JSON), so anything larger means a broken or foreign server — for
// example the HTTP port, whose "HTTP/1.1" reads as a size of 1.2 GB.
const maxFrameSize = 1 << 20

var (
	frameOK        = []byte("OK")
	frameHeartbeat = []byte("_heartbeat_")
)

// readFrame reads one frame from r into buf, growing it as needed, and returns
// the frame type and its data, which aliases buf. Frames whose size is below 4
// or above max are rejected with an ErrProtocol before any
// allocation.
func readFrame(r io.Reader, buf []byte, max int) (typ int32, data, newBuf []byte, err error) {
	if cap(buf) < 8 {
		buf = make([]byte, 0, 64)
	}
	hdr := buf[:8]
	if _, err = io.ReadFull(r, hdr[:4]); err != nil {
		return 0, nil, buf, err
	}
	size := binary.BigEndian.Uint32(hdr[:4])
	if size < 4 || size > uint32(max)+4 {
		return 0, nil, buf, protocolErrorf("frame size %d out of range 4-%d (is this an nsqd TCP port?)", size, max+4)
	}
	if _, err = io.ReadFull(r, hdr[4:8]); err != nil {
		return 0, nil, buf, unexpectedEOF(err)
	}
	typ = int32(binary.BigEndian.Uint32(hdr[4:8]))
	n := int(size) - 4
	if cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	data = buf[:n]
	if _, err = io.ReadFull(r, data); err != nil {
		return 0, nil, buf, unexpectedEOF(err)
	}
	return typ, data, buf, nil
}

// unexpectedEOF turns an EOF in the middle of a frame into io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readReply reads one non-heartbeat reply during the handshake. An error
// frame becomes a *ServerError.
func readReply(r io.Reader, what string) ([]byte, error) {
	for {
		typ, data, _, err := readFrame(r, nil, maxFrameSize)
		if err != nil {
			return nil, fmt.Errorf("reading %s reply: %w", what, err)
		}
		switch {
		case typ == frameTypeError:
			return nil, parseServerError(data)
		case typ != frameTypeResponse:
			return nil, protocolErrorf("unexpected frame type %d in %s reply", typ, what)
		case !bytes.Equal(data, frameHeartbeat):
			return data, nil
		}
	}
}

// readOK reads a reply that must be OK.
func readOK(r io.Reader, what string) error {
	data, err := readReply(r, what)
	if err == nil && !bytes.Equal(data, frameOK) {
		err = protocolErrorf("%s reply %q, want OK", what, data)
	}
	return err
}

// truncate shortens server data quoted in an error.
func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// appendFrame appends a frame as nsqd would send it. It is used by tests and
// fake servers.
func appendFrame(dst []byte, typ int32, data []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)+4))
	dst = binary.BigEndian.AppendUint32(dst, uint32(typ))
	return append(dst, data...)
}

// identifyResponse is the part of nsqd's IDENTIFY reply a producer uses.
type identifyResponse struct {
	Version       string `json:"version"`
	TLSv1         bool   `json:"tls_v1"`
	Deflate       bool   `json:"deflate"`
	DeflateLevel  int    `json:"deflate_level"`
	Snappy        bool   `json:"snappy"`
	AuthRequired  bool   `json:"auth_required"`
	MaxRdyCount   int64  `json:"max_rdy_count"`
	MaxMsgTimeout int64  `json:"max_msg_timeout"`
}

// AuthInfo is nsqd's reply to AUTH: who the secret identifies and how many
// permissions the auth server granted.
type AuthInfo struct {
	Identity        string `json:"identity"`
	IdentityURL     string `json:"identity_url"`
	PermissionCount int64  `json:"permission_count"`
}
