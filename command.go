package nsqpub

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Errors for publishes rejected before anything is sent. Each is wrapped with
// the details, so test with errors.Is.
var (
	ErrInvalidTopic    = errors.New("nsqpub: invalid topic name")
	ErrEmptyBody       = errors.New("nsqpub: empty message body")
	ErrMessageTooLarge = errors.New("nsqpub: message body larger than MaxMsgSize")
	ErrEmptyBatch      = errors.New("nsqpub: MultiPublish with no messages")
	ErrBatchTooLarge   = errors.New("nsqpub: MultiPublish body larger than MaxBodySize")
	ErrInvalidDelay    = errors.New("nsqpub: DeferredPublish delay out of range")
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

// appendMPUBHeader appends the header of an MPUB to topic of count messages
// whose body size is size: the line, the body size and the count.
func appendMPUBHeader(dst []byte, topic string, size, count int) []byte {
	dst = append(dst, "MPUB "...)
	dst = append(dst, topic...)
	dst = append(dst, '\n')
	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	return binary.BigEndian.AppendUint32(dst, uint32(count))
}

// appendTo appends the whole command as it goes on the wire.
func (c *command) appendTo(dst []byte) []byte {
	dst = c.appendHeader(dst)
	if c.kind == cmdMPUB {
		for _, b := range c.bodies {
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
			dst = append(dst, b...)
		}
		return dst
	}
	return append(dst, c.body...)
}

// identifyBody is the JSON body of IDENTIFY.
type identifyBody struct {
	ClientID            string `json:"client_id"`
	Hostname            string `json:"hostname"`
	UserAgent           string `json:"user_agent"`
	FeatureNegotiation  bool   `json:"feature_negotiation"`
	HeartbeatInterval   int64  `json:"heartbeat_interval"`
	TLSv1               bool   `json:"tls_v1"`
	Deflate             bool   `json:"deflate"`
	DeflateLevel        int    `json:"deflate_level,omitempty"`
	Snappy              bool   `json:"snappy"`
	OutputBufferTimeout int64  `json:"output_buffer_timeout,omitempty"`
}

// identifyCommand builds IDENTIFY for a configuration with defaults applied.
func identifyCommand(c *Config) command {
	hb := c.HeartbeatInterval.Milliseconds()
	if c.HeartbeatInterval < 0 {
		hb = -1
	}
	body, _ := json.Marshal(identifyBody{
		ClientID:           c.ClientID,
		Hostname:           c.Hostname,
		UserAgent:          c.UserAgent,
		FeatureNegotiation: true,
		HeartbeatInterval:  hb,
		TLSv1:              c.TlsV1,
		Deflate:            c.Deflate,
		DeflateLevel:       c.DeflateLevel,
		Snappy:             c.Snappy,
	})
	return command{kind: cmdIDENTIFY, body: body}
}

// IsValidTopicName reports whether name is a valid NSQ topic name: 1 to 64
// characters from [.a-zA-Z0-9_-], optionally ending in "#ephemeral" (the
// suffix counts towards the 64).
func IsValidTopicName(name string) bool {
	if len(name) < 1 || len(name) > 64 {
		return false
	}
	base, _ := strings.CutSuffix(name, "#ephemeral")
	if base == "" {
		return false
	}
	for i := 0; i < len(base); i++ {
		switch ch := base[i]; {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9',
			ch == '.', ch == '_', ch == '-':
		default:
			return false
		}
	}
	return true
}

// limits are the client-side bounds a command is checked against.
type limits struct {
	maxMsgSize    int
	maxBodySize   int
	maxDeferDelay time.Duration
}

// check validates c against nsqd's rules and l, returning an error that
// wraps one of the Err* sentinels above, or nil.
func (l *limits) check(c *command) error {
	if !IsValidTopicName(c.topic) {
		return fmt.Errorf("%w: %q (want 1-64 characters of [.a-zA-Z0-9_-], optionally ending in #ephemeral)", ErrInvalidTopic, c.topic)
	}
	switch c.kind {
	case cmdDPUB:
		if c.delay < 0 || c.delay > l.maxDeferDelay {
			return fmt.Errorf("%w: %v not in 0-%v", ErrInvalidDelay, c.delay, l.maxDeferDelay)
		}
		fallthrough
	case cmdPUB:
		return l.checkBody(c.body, -1)
	case cmdMPUB:
		if len(c.bodies) == 0 {
			return ErrEmptyBatch
		}
		for i, b := range c.bodies {
			if err := l.checkBody(b, i); err != nil {
				return err
			}
		}
		if n := mpubBodySize(c.bodies); n > l.maxBodySize {
			return fmt.Errorf("%w: %d > %d", ErrBatchTooLarge, n, l.maxBodySize)
		}
	}
	return nil
}

// checkBody checks one message body; i is its index in an MPUB, or -1.
func (l *limits) checkBody(b []byte, i int) error {
	var err error
	switch {
	case len(b) == 0:
		err = ErrEmptyBody
	case len(b) > l.maxMsgSize:
		err = fmt.Errorf("%w: %d > %d", ErrMessageTooLarge, len(b), l.maxMsgSize)
	default:
		return nil
	}
	if i >= 0 {
		return fmt.Errorf("message %d: %w", i, err)
	}
	return err
}
