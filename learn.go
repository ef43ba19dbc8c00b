package nsqpub

import (
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// model is what a Producer has learned about its nsqd from the answers it
// got: the limits nsqd revealed when it refused something, and the largest
// message, the longest delay and the topics it has accepted.
//
// The limits let publishes nsqd would refuse be refused locally, before
// they can take neighbours with them; what was accepted tells the writer
// which commands are suspects: a command with a message larger, a delay
// longer or a topic other than anything accepted so far is written with
// nothing pipelined behind it until nsqd has answered, so that if nsqd
// refuses it (and closes the connection), only it fails.
//
// nsqd's own refusals end connections, and the limits learned survive
// those. Any other connection loss forgets the limits (forget), since nsqd
// may have been restarted with other flags, and nothing may be refused
// locally that the nsqd of the moment would take. What nsqd accepted is
// kept: forgetting it would write the first commands after every network
// blip alone, one round trip each; if nsqd did restart with a lower limit,
// its first refusal lowers what counts as accepted again.
//
// Every field is an atomic: the connection's reader writes, the writer and
// publishers read. A stale read only makes a command a suspect once more,
// or lets nsqd refuse what the local check would have.
type model struct {
	maxMsgSize  atomic.Int64 // learned --max-msg-size; 0: unknown
	maxBodySize atomic.Int64 // learned --max-body-size; 0: unknown
	accSize     atomic.Int64 // the largest message body nsqd accepted
	accDelay    atomic.Int64 // the longest DPUB delay nsqd accepted, in ms
	topics      atomic.Pointer[topicSet]
}

// topicSet is an immutable set of topic names; changes copy it.
type topicSet map[string]struct{}

// maxTopics bounds the accepted-topic set; past it the set starts afresh.
const maxTopics = 4096

// shape is what the model needs to know of a command in flight: its topic,
// its largest message body and its delay (DPUB). The writer records it when
// it pushes the command; the reader uses it on the answer.
type shape struct {
	topic   string
	maxBody int
	delay   time.Duration // DPUB only
	dpub    bool
}

// shapeOf returns the shape of cmd.
func shapeOf(cmd *command) shape {
	s := shape{topic: cmd.topic, delay: cmd.delay, dpub: cmd.kind == cmdDPUB, maxBody: len(cmd.body)}
	for _, b := range cmd.bodies {
		s.maxBody = max(s.maxBody, len(b))
	}
	return s
}

// suspect reports whether nsqd has not yet accepted something like s.
func (m *model) suspect(s shape) bool {
	if int64(s.maxBody) > m.accSize.Load() || (s.dpub && s.delay.Milliseconds() > m.accDelay.Load()) {
		return true
	}
	return !m.knows(s.topic)
}

// knows reports whether nsqd has accepted a publish to topic.
func (m *model) knows(topic string) bool {
	topics := m.topics.Load()
	if topics == nil {
		return false
	}
	_, ok := (*topics)[topic]
	return ok
}

// accepted records that nsqd answered OK to a command shaped s.
func (m *model) accepted(s shape) {
	storeMax(&m.accSize, int64(s.maxBody))
	if s.dpub {
		storeMax(&m.accDelay, s.delay.Milliseconds())
	}
	if m.knows(s.topic) {
		return // every answer comes here: no closure, no allocation
	}
	m.editTopics(func(old topicSet) topicSet {
		if _, ok := old[s.topic]; ok {
			return nil
		}
		set := topicSet{s.topic: {}}
		if len(old) < maxTopics {
			for t := range old {
				set[t] = struct{}{}
			}
		}
		return set
	})
}

// refused learns from nsqd's refusal of a command shaped s: a limit the
// error states, and that s's topic is a suspect again.
func (m *model) refused(s shape, serr *ServerError) {
	if limit, ok := statedLimit(serr.Message, "message too big "); ok && serr.Code == "E_BAD_MESSAGE" {
		m.maxMsgSize.Store(limit)
		if m.accSize.Load() > limit {
			m.accSize.Store(limit)
		}
	}
	if limit, ok := statedLimit(serr.Message, "body too big "); ok && serr.Code == "E_BAD_BODY" {
		m.maxBodySize.Store(limit)
	}
	m.editTopics(func(old topicSet) topicSet {
		if _, ok := old[s.topic]; !ok {
			return nil
		}
		set := make(topicSet, len(old))
		for t := range old {
			if t != s.topic {
				set[t] = struct{}{}
			}
		}
		return set
	})
}

// editTopics replaces the topic set with edit's copy of it, again if
// another goroutine replaced it meanwhile; edit returns nil to leave it.
func (m *model) editTopics(edit func(old topicSet) topicSet) {
	for {
		old := m.topics.Load()
		var cur topicSet
		if old != nil {
			cur = *old
		}
		set := edit(cur)
		if set == nil || m.topics.CompareAndSwap(old, &set) {
			return
		}
	}
}

// forget drops the limits learned.
func (m *model) forget() {
	m.maxMsgSize.Store(0)
	m.maxBodySize.Store(0)
}

// bodyLimit returns the body size a merged MPUB may reach: configured, or
// lower when nsqd said so.
func (m *model) bodyLimit(configured int) int {
	if l := m.maxBodySize.Load(); l > 0 && l < int64(configured) {
		return int(l)
	}
	return configured
}

// msgLimit returns the message size a publish may have: configured, or
// lower when nsqd said so.
func (m *model) msgLimit(configured int) int {
	if l := m.maxMsgSize.Load(); l > 0 && l < int64(configured) {
		return int(l)
	}
	return configured
}

// statedLimit finds "<what>N > MAX" in msg, as nsqd states its limits
// ("PUB message too big 101 > 100", "MPUB body too big 1044 > 1000"), and
// returns MAX.
func statedLimit(msg, what string) (int64, bool) {
	_, rest, ok := strings.Cut(msg, what)
	if !ok {
		return 0, false
	}
	_, limit, ok := strings.Cut(rest, " > ")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(limit), 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// check refuses a publish that nsqd has said it would refuse: a message over
// its --max-msg-size (ErrMessageTooLarge) or an MPUB over its
// --max-body-size (ErrBatchTooLarge), each with the limit nsqd stated. It
// is the Config's size check (limits.checkSizes) with nsqd's limits.
func (m *model) check(cmd *command) error {
	if m.maxMsgSize.Load() == 0 && m.maxBodySize.Load() == 0 {
		return nil
	}
	l := limits{maxMsgSize: m.msgLimit(math.MaxInt), maxBodySize: m.bodyLimit(math.MaxInt), stated: true}
	return l.checkSizes(cmd)
}
