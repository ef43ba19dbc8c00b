package nsqpub

import (
	"sync/atomic"
	"time"
)

// counters are a Producer's running totals, updated with atomics as
// publishes complete.
type counters struct {
	published, rejected, notSent, unknown atomic.Uint64
	retried, connects                     atomic.Uint64
	inFlight                              atomic.Int64
	lastErr                               atomic.Pointer[error]
}

// record counts n messages that ended with err.
func (c *counters) record(err error, n int) {
	c.inFlight.Add(-1)
	switch OutcomeOf(err) {
	case OK:
		c.published.Add(uint64(n))
		return
	case Rejected:
		c.rejected.Add(uint64(n))
	case NotSent:
		c.notSent.Add(uint64(n))
	case Unknown:
		c.unknown.Add(uint64(n))
	}
	last := err // a copy, so that only failures allocate
	c.lastErr.Store(&last)
}

// failed counts n messages of a publish that failed before it was queued
// for the connection (it was never in flight).
func (c *counters) failed(err error, n int) {
	c.inFlight.Add(1)
	c.record(err, n)
}

// ProducerStats is a snapshot of a Producer's counters. Message counts
// count every message of an MPUB.
type ProducerStats struct {
	Addr  string // the nsqd address
	State string // "idle", "connecting", "connected", "backoff" or "stopped"

	Published uint64 // messages nsqd acknowledged
	Rejected  uint64 // messages refused (validation or nsqd)
	NotSent   uint64 // messages that failed without being executed
	Unknown   uint64 // messages whose outcome is unknown
	Retried   uint64 // publishes sent again on a new connection
	InFlight  int64  // publishes accepted and not yet completed

	Connects   uint64 // connections made
	Reconnects uint64 // connections made after the first
	LastError  error  // the last publish or connection error, or nil
}

// Stats returns a snapshot of the Producer's counters. It is cheap (a few
// atomic loads and a short lock) and safe for concurrent use, so it can
// feed expvar or a metrics exporter on every scrape.
func (p *Producer) Stats() ProducerStats {
	c := &p.ctr
	s := ProducerStats{
		Addr:      p.addr,
		Published: c.published.Load(),
		Rejected:  c.rejected.Load(),
		NotSent:   c.notSent.Load(),
		Unknown:   c.unknown.Load(),
		Retried:   c.retried.Load(),
		InFlight:  c.inFlight.Load(),
		Connects:  c.connects.Load(),
	}
	if s.Connects > 0 {
		s.Reconnects = s.Connects - 1
	}
	if e := c.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	p.mu.Lock()
	switch {
	case p.stopped:
		s.State = "stopped"
	case p.conn != nil && !p.conn.dead():
		s.State = "connected"
	case p.dialing != nil:
		s.State = "connecting"
	case time.Now().Before(p.retryAt):
		s.State = "backoff"
	default:
		s.State = "idle"
	}
	if s.LastError == nil && p.dialErr != nil {
		s.LastError = p.dialErr
	}
	p.mu.Unlock()
	return s
}
