package nsqpub

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"strconv"
	"time"
)

// cmdKind names an NSQ command.
type cmdKind uint8

const (
	cmdPUB cmdKind = iota
	cmdMPUB
	cmdDPUB
	cmdNOP
	cmdIDENTIFY
	cmdAUTH
)

var cmdNames = [...]string{cmdPUB: "PUB", cmdMPUB: "MPUB", cmdDPUB: "DPUB", cmdNOP: "NOP",
	cmdIDENTIFY: "IDENTIFY", cmdAUTH: "AUTH"}

// String returns the command's name on the wire.
func (k cmdKind) String() string { return cmdNames[k] }

// command is one NSQ command. It holds references to the caller's bodies;
// nothing is copied until it is written.
type command struct {
	kind   cmdKind
	topic  string        // PUB, MPUB, DPUB
	delay  time.Duration // DPUB
	body   []byte        // PUB, DPUB, IDENTIFY, AUTH
	bodies [][]byte      // MPUB
}

// answered reports whether nsqd replies to the command (NOP gets no reply).
func (c *command) answered() bool { return c.kind != cmdNOP }

// count returns how many messages the command publishes.
func (c *command) count() int {
	switch c.kind {
	case cmdPUB, cmdDPUB:
		return 1
	case cmdMPUB:
		return len(c.bodies)
	}
	return 0
}

// bodySize returns the size of the command's body on the wire.
func (c *command) bodySize() int {
	if c.kind == cmdMPUB {
		return mpubBodySize(c.bodies)
	}
	return len(c.body)
}

// mpubBodySize returns the MPUB body size for bodies: 4 + Σ(4 + len).
func mpubBodySize(bodies [][]byte) int {
	n := 4
	for _, b := range bodies {
		n += 4 + len(b)
	}
	return n
}

// appendHeader appends the command line and, for commands with a body, the
// body size (and for MPUB the message count): everything before the bodies.
// It is the one place where a command's header is encoded.
func (c *command) appendHeader(dst []byte) []byte {
	dst = append(dst, cmdNames[c.kind]...)
	switch c.kind {
	case cmdPUB, cmdMPUB:
		dst = append(dst, ' ')
		dst = append(dst, c.topic...)
	case cmdDPUB:
		dst = append(dst, ' ')
		dst = append(dst, c.topic...)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, c.delay.Milliseconds(), 10)
	}
	dst = append(dst, '\n')
	switch c.kind {
	case cmdMPUB:
		dst = binary.BigEndian.AppendUint32(dst, uint32(mpubBodySize(c.bodies)))
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(c.bodies)))
	case cmdPUB, cmdDPUB, cmdIDENTIFY, cmdAUTH:
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(c.body)))
	}
	return dst
}

// writeTo writes the whole command to w as it goes on the wire: the header,
// then the body, or for MPUB each message behind its 4-byte size. scratch is
// reused for the header and returned for the next call. The bodies are
// written as they are, never copied here. Errors are w's (a bufio.Writer
// keeps them for its next Flush).
func (c *command) writeTo(w io.Writer, scratch []byte) []byte {
	scratch = c.appendHeader(scratch[:0])
	w.Write(scratch)
	if c.kind != cmdMPUB {
		w.Write(c.body)
		return scratch
	}
	for _, b := range c.bodies {
		scratch = binary.BigEndian.AppendUint32(scratch[:0], uint32(len(b)))
		w.Write(scratch)
		w.Write(b)
	}
	return scratch
}

// appendTo appends the whole command as it goes on the wire.
func (c *command) appendTo(dst []byte) []byte {
	b := appendBuffer(dst)
	c.writeTo(&b, nil)
	return b
}

// appendBuffer is an io.Writer that appends to a byte slice.
type appendBuffer []byte

func (b *appendBuffer) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}

// identifyBody is the JSON body of IDENTIFY: the keys and values go-nsq
// sends, in the order encoding/json writes go-nsq's map (sorted), so the
// bytes are the same as go-nsq's for the same settings. short_id and long_id
// repeat client_id and hostname under the names older nsqd versions read.
type identifyBody struct {
	ClientID            string `json:"client_id"`
	Deflate             bool   `json:"deflate"`
	DeflateLevel        int    `json:"deflate_level"`
	FeatureNegotiation  bool   `json:"feature_negotiation"`
	HeartbeatInterval   int64  `json:"heartbeat_interval"`
	Hostname            string `json:"hostname"`
	LongID              string `json:"long_id"`
	MsgTimeout          int64  `json:"msg_timeout"`
	OutputBufferSize    int64  `json:"output_buffer_size"`
	OutputBufferTimeout int64  `json:"output_buffer_timeout"`
	SampleRate          int32  `json:"sample_rate"`
	ShortID             string `json:"short_id"`
	Snappy              bool   `json:"snappy"`
	TLSv1               bool   `json:"tls_v1"`
	UserAgent           string `json:"user_agent"`
}

// identifyCommand builds IDENTIFY for a configuration with defaults applied.
// Durations go in whole milliseconds, except that exactly -1 (nanosecond)
// is sent as -1, nsqd's "disabled", for the heartbeat and the output buffer
// timeout. Nothing is clamped: nsqd judges the values against its flags.
func identifyCommand(c *Config) command {
	body, _ := json.Marshal(identifyBody{
		ClientID:            c.ClientID,
		Deflate:             c.Deflate,
		DeflateLevel:        c.DeflateLevel,
		FeatureNegotiation:  true,
		HeartbeatInterval:   wireMillis(c.HeartbeatInterval),
		Hostname:            c.Hostname,
		LongID:              c.Hostname,
		MsgTimeout:          c.MsgTimeout.Milliseconds(),
		OutputBufferSize:    c.OutputBufferSize,
		OutputBufferTimeout: wireMillis(c.OutputBufferTimeout),
		SampleRate:          c.SampleRate,
		ShortID:             c.ClientID,
		Snappy:              c.Snappy,
		TLSv1:               c.TlsV1,
		UserAgent:           c.UserAgent,
	})
	return command{kind: cmdIDENTIFY, body: body}
}

// wireMillis is d in whole milliseconds (truncated toward zero), or -1 for
// exactly -1.
func wireMillis(d time.Duration) int64 {
	if d == -1 {
		return -1
	}
	return d.Milliseconds()
}
