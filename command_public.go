package nsqpub

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"strconv"
	"time"
)

// Command is one command of the NSQ TCP protocol as go-nsq exports it, for
// programs that speak the protocol themselves: write MagicV2 and then
// commands to a connection to nsqd. The Producer does not use it; it
// encodes its commands without building one.
type Command struct {
	Name   []byte   // the command's name, such as "PUB"
	Params [][]byte // written after the name, each behind a space
	Body   []byte   // written behind its 4-byte big-endian size; nil: no body
}

// String returns the name and the parameters, separated by spaces, as go-nsq
// does; the body is left out.
func (c *Command) String() string {
	if len(c.Params) == 0 {
		return string(c.Name)
	}
	return string(c.Name) + " " + string(bytes.Join(c.Params, []byte(" ")))
}

// WriteTo writes the command to w as it goes on the wire: the name and
// parameters separated by spaces and ended by a newline, then, if Body is
// not nil (even if empty), its size as 4 big-endian bytes and the body. The
// bytes are go-nsq's. It makes at most two writes (the line with the size,
// then the body), so w need not be buffered. It returns the bytes written
// and the first error of w.
func (c *Command) WriteTo(w io.Writer) (int64, error) {
	n := len(c.Name) + 1 + 4
	for _, p := range c.Params {
		n += 1 + len(p)
	}
	head := make([]byte, 0, n)
	head = append(head, c.Name...)
	for _, p := range c.Params {
		head = append(head, ' ')
		head = append(head, p...)
	}
	head = append(head, '\n')
	if c.Body != nil {
		head = binary.BigEndian.AppendUint32(head, uint32(len(c.Body)))
	}
	written, err := w.Write(head)
	total := int64(written)
	if err != nil || c.Body == nil {
		return total, err
	}
	written, err = w.Write(c.Body)
	return total + int64(written), err
}

// Publish returns the PUB command that publishes body to topic. Neither is
// checked; body is referenced, not copied.
func Publish(topic string, body []byte) *Command {
	return &Command{Name: []byte("PUB"), Params: [][]byte{[]byte(topic)}, Body: body}
}

// DeferredPublish returns the DPUB command that publishes body to topic for
// delivery after delay, sent in whole milliseconds (truncated). Nothing is
// checked; body is referenced, not copied.
func DeferredPublish(topic string, delay time.Duration, body []byte) *Command {
	ms := strconv.FormatInt(delay.Milliseconds(), 10)
	return &Command{Name: []byte("DPUB"), Params: [][]byte{[]byte(topic), []byte(ms)}, Body: body}
}

// MultiPublish returns the MPUB command that publishes every body to topic
// at once. Its Body is built now, a copy of the bodies: their count, then
// each behind its size, all as 4-byte big-endian numbers. Nothing is
// checked, and the error is always nil (the result is go-nsq's).
func MultiPublish(topic string, bodies [][]byte) (*Command, error) {
	body := make([]byte, 0, mpubBodySize(bodies))
	body = binary.BigEndian.AppendUint32(body, uint32(len(bodies)))
	for _, b := range bodies {
		body = binary.BigEndian.AppendUint32(body, uint32(len(b)))
		body = append(body, b...)
	}
	return &Command{Name: []byte("MPUB"), Params: [][]byte{[]byte(topic)}, Body: body}, nil
}

// Nop returns the NOP command, which nsqd does not answer; a client sends it
// to answer a heartbeat.
func Nop() *Command { return &Command{Name: []byte("NOP")} }

// Ping returns the PING command, as go-nsq's Ping does. PING belongs to
// nsqlookupd's protocol: nsqd answers it with E_INVALID and closes the
// connection. To check an nsqd, use Producer.Ping, which sends NOP.
func Ping() *Command { return &Command{Name: []byte("PING")} }

// Identify returns the IDENTIFY command whose body is js encoded as JSON
// (see the IDENTIFY section of the NSQ protocol for the keys nsqd knows).
// It returns the error of encoding/json, if js cannot be encoded.
func Identify(js map[string]interface{}) (*Command, error) {
	body, err := json.Marshal(js)
	if err != nil {
		return nil, err
	}
	return &Command{Name: []byte("IDENTIFY"), Body: body}, nil
}

// Auth returns the AUTH command that sends secret to nsqd. The error is
// always nil (the signature is go-nsq's).
func Auth(secret string) (*Command, error) {
	return &Command{Name: []byte("AUTH"), Body: []byte(secret)}, nil
}
