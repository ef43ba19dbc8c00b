package nsqpub

import (
	"fmt"
	"strings"
	"time"
)

// IsValidTopicName reports whether name is a valid NSQ topic name: 1 to 64
// characters from [.a-zA-Z0-9_-], optionally ending in "#ephemeral" (the
// suffix counts towards the 64).
func IsValidTopicName(name string) bool { return isValidName(name) }

// IsValidChannelName reports whether name is a valid NSQ channel name. The
// rule is the topic's (nsqd and go-nsq apply the same one): 1 to 64
// characters from [.a-zA-Z0-9_-], optionally ending in "#ephemeral".
func IsValidChannelName(name string) bool { return isValidName(name) }

// isValidName is the rule of topic and channel names.
func isValidName(name string) bool {
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

// limits are the client-side bounds a command is checked against: the
// Config's, or (stated) the ones nsqd stated in its refusals.
type limits struct {
	maxMsgSize    int
	maxBodySize   int
	maxDeferDelay time.Duration
	stated        bool // the sizes are nsqd's, learned from its refusals
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
	}
	return l.checkSizes(c)
}

// checkSizes checks the bodies of a PUB, DPUB or MPUB against l's sizes.
func (l *limits) checkSizes(c *command) error {
	switch c.kind {
	case cmdPUB, cmdDPUB:
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
			return fmt.Errorf("%w: %d > %d%s", ErrBatchTooLarge, n, l.maxBodySize, l.source("--max-body-size"))
		}
	}
	return nil
}

// source says where a size limit comes from, when nsqd stated it.
func (l *limits) source(flag string) string {
	if l.stated {
		return " (nsqd's " + flag + ", from its refusal)"
	}
	return ""
}

// checkBody checks one message body; i is its index in an MPUB, or -1.
func (l *limits) checkBody(b []byte, i int) error {
	var err error
	switch {
	case len(b) == 0:
		err = ErrEmptyBody
	case len(b) > l.maxMsgSize:
		err = fmt.Errorf("%w: %d > %d%s", ErrMessageTooLarge, len(b), l.maxMsgSize, l.source("--max-msg-size"))
	default:
		return nil
	}
	if i >= 0 {
		return fmt.Errorf("message %d: %w", i, err)
	}
	return err
}
