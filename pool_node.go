package nsqpub

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// poolNode is one nsqd of a pool and its health.
type poolNode struct {
	p     *Producer
	slot  int  // fixed: its bit in a publish's tried set; unique among the pool's nodes, reused once drained
	fixed bool // fixed: given to NewProducerPool, never removed by discovery

	gone atomic.Bool // set once, under the pool's mu, when discovery removes it
	// tomb is the set of topics nsqlookupd lists as tombstoned on this
	// node (nil: none); stored by the discovery pollers, loaded by pick.
	tomb atomic.Pointer[map[string]bool]

	mu        sync.Mutex
	failures  int       // failures in a row
	downUntil time.Time // skipped until then
	lastErr   error
	// What the watch saw last: the connection, its answers so far, and
	// since when it has had commands in flight and no new answer (zero
	// while it makes progress or has nothing in flight).
	seenConn   *conn
	seenPops   uint64
	stuckSince time.Time
}

// report updates the node's health from the result of a publish to topic
// ("" for a Ping).
//
// While a node waits out its backoff no publish is sent to it, so the
// results that arrive meanwhile are those of publishes sent before it
// failed: they do not change its state. Thus the many publishes in flight
// on a connection that dies count as one failure, not as many (which would
// push the backoff to its maximum at once), and an OK answered just before
// the failure does not bring the node back. The first result after the
// backoff, the probe, decides: OK makes the node healthy, a failure backs
// it off for longer, and at least until its Producer dials again, so that
// the next probe really dials.
func (n *poolNode) report(log *logState, topic string, err error) {
	o := OutcomeOf(err)
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	if now.Before(n.downUntil) {
		return
	}
	if o == OK || o == Rejected {
		if n.failures > 0 {
			log.log(LogLevelInfo, "node healthy again", "node", n.p.addr, "after_failures", n.failures)
		}
		n.failures, n.downUntil, n.lastErr = 0, time.Time{}, nil
		return
	}
	n.failures++
	wait := backoff(n.failures)
	if redial := n.p.nextDial().Sub(now); redial > wait {
		wait = redial
	}
	n.downUntil, n.lastErr = now.Add(wait), err
	kv := []any{"node", n.p.addr, "attempt", n.failures, "retry_in", wait.Round(time.Millisecond), "error", err}
	if topic != "" {
		kv = append(kv, "topic", topic)
	}
	log.log(LogLevelWarning, "node skipped", kv...)
}

// nextDial returns when the Producer will dial again after failed dials
// (zero if it is not backing off).
func (p *Producer) nextDial() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.retryAt
}

// pick returns the next node to try for a publish to topic, skipping the
// nodes in tried and those waiting out a backoff.
func (pp *ProducerPool) pick(tried uint64, topic string) (*poolNode, error) {
	var picked *poolNode
	pp.eachUp(tried, topic, func(n *poolNode) bool { picked = n; return true })
	if picked == nil {
		return nil, pp.noNodeError(tried)
	}
	return picked, nil
}

// eachUp calls f for the nodes not in tried, not waiting out a backoff and
// not removed, in the strategy's order, until f returns true. Nodes where
// topic is tombstoned come only if no other node is up: a tombstone is
// nsqlookupd's hint that the topic is leaving that node, and nsqd itself
// still takes the publish.
func (pp *ProducerPool) eachUp(tried uint64, topic string, f func(n *poolNode) bool) {
	nodes := pp.list()
	k := len(nodes)
	if k == 0 {
		return
	}
	now := time.Now()
	start := 0
	if pp.cfg.PoolStrategy == RoundRobin {
		start = int(pp.rr.Add(1) % uint64(k))
	}
	seen, skipped := false, false
	for j := 0; j < k; j++ {
		n := nodes[(start+j)%k]
		if tried&(1<<n.slot) != 0 || n.gone.Load() || !n.up(now) {
			continue
		}
		if n.tombstoned(topic) {
			skipped = true
			continue
		}
		seen = true
		if f(n) {
			return
		}
	}
	if seen || !skipped {
		return
	}
	for j := 0; j < k; j++ {
		n := nodes[(start+j)%k]
		if tried&(1<<n.slot) == 0 && !n.gone.Load() && n.up(now) && f(n) {
			return
		}
	}
}

// tombstoned reports whether nsqlookupd lists topic as tombstoned on n.
func (n *poolNode) tombstoned(topic string) bool {
	t := n.tomb.Load()
	return t != nil && (*t)[topic]
}

// holdDown keeps the node skipped until at least until: a node that stalled
// once is not probed again sooner than a stall takes to show.
func (n *poolNode) holdDown(until time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.downUntil.Before(until) {
		n.downUntil = until
	}
}

// up reports whether the node is not waiting out a backoff at now.
func (n *poolNode) up(now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !now.Before(n.downUntil)
}

// noNodeError describes why no node is left to try.
func (pp *ProducerPool) noNodeError(tried uint64) error {
	nodes := pp.list()
	if len(nodes) == 0 {
		return fmt.Errorf("%w: %w: no nsqd node known (no address given, and no nsqlookupd has listed one)", ErrNotConnected, ErrNoHealthyNode)
	}
	var b strings.Builder
	for i, n := range nodes {
		n.mu.Lock()
		if i > 0 {
			b.WriteString("; ")
		}
		switch {
		case tried&(1<<n.slot) != 0 && n.lastErr != nil:
			fmt.Fprintf(&b, "%s: %v", n.p.addr, n.lastErr)
		case n.lastErr != nil:
			fmt.Fprintf(&b, "%s: down for %v after: %v", n.p.addr, time.Until(n.downUntil).Round(time.Millisecond), n.lastErr)
		case n.gone.Load():
			fmt.Fprintf(&b, "%s: removed", n.p.addr)
		default:
			fmt.Fprintf(&b, "%s: tried", n.p.addr)
		}
		n.mu.Unlock()
	}
	return fmt.Errorf("%w: %w: %s", ErrNotConnected, ErrNoHealthyNode, b.String())
}

// NodeStats is one node of a PoolStats: its Producer's counters and its
// health in the pool.
type NodeStats struct {
	ProducerStats
	Healthy   bool      // not waiting out a backoff
	Failures  int       // failures in a row
	DownUntil time.Time // skipped until then, if not healthy
}

// PoolStats is a snapshot of a pool: each node, and the sums over them.
// Counts are per node, so a publish that failed on one node and was then
// acknowledged by another counts as NotSent (or Unknown) on the first and
// Published on the second: Published is what nsqd acknowledged, the
// failure counts are failed attempts, not failed publishes. Rejected also
// counts the messages refused by validation before any node was chosen. The
// sums include the nodes that discovery removed, so they never go down.
type PoolStats struct {
	Nodes                                 []NodeStats
	Published, Rejected, NotSent, Unknown uint64
	InFlight                              int64

	NodesKnown    int    // nodes in the rotation now (len(Nodes))
	NodesAdded    uint64 // nodes discovery added
	NodesRemoved  uint64 // nodes discovery removed (no nsqlookupd lists them any more)
	LookupdPolls  uint64 // requests to nsqlookupd
	LookupdErrors uint64 // of them, those that failed (unreachable, slow, bad status or body)
}

// Stats returns a snapshot of every node's counters and health. It is cheap
// and safe for concurrent use.
func (pp *ProducerPool) Stats() PoolStats {
	s := PoolStats{
		Rejected:      pp.refused.Load(),
		NodesAdded:    pp.ctr.added.Load(),
		NodesRemoved:  pp.ctr.removed.Load(),
		LookupdPolls:  pp.ctr.polls.Load(),
		LookupdErrors: pp.ctr.errors.Load(),
	}
	now := time.Now()
	for _, n := range pp.list() {
		ns := NodeStats{ProducerStats: n.p.Stats()}
		n.mu.Lock()
		ns.Failures, ns.DownUntil = n.failures, n.downUntil
		ns.Healthy = !now.Before(n.downUntil)
		n.mu.Unlock()
		s.Nodes = append(s.Nodes, ns)
		s.add(ns.ProducerStats)
	}
	s.NodesKnown = len(s.Nodes)
	pp.mu.Lock()
	for _, n := range pp.draining {
		s.add(n.p.Stats())
	}
	s.Published += pp.retired.Published
	s.Rejected += pp.retired.Rejected
	s.NotSent += pp.retired.NotSent
	s.Unknown += pp.retired.Unknown
	pp.mu.Unlock()
	return s
}

// add sums one node's counts into s.
func (s *PoolStats) add(ps ProducerStats) {
	s.Published += ps.Published
	s.Rejected += ps.Rejected
	s.NotSent += ps.NotSent
	s.Unknown += ps.Unknown
	s.InFlight += ps.InFlight
}

// look records the node's progress at now and returns how long it has had
// commands in flight without a new answer (0 if it is making progress).
func (n *poolNode) look(now time.Time) time.Duration {
	c, pops, inFlight := n.p.progress()
	n.mu.Lock()
	defer n.mu.Unlock()
	if inFlight == 0 || c != n.seenConn || pops != n.seenPops {
		n.seenConn, n.seenPops, n.stuckSince = c, pops, time.Time{}
		if inFlight > 0 {
			n.stuckSince = now
		}
		return 0
	}
	return now.Sub(n.stuckSince)
}

// stuck returns since when the watch has seen the node with commands in
// flight and no new answer, or the zero time.
func (n *poolNode) stuck() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stuckSince
}

// errStalled is the cause of a connection a pool closed because nsqd stopped
// answering it.
var errStalled = errors.New("node stalled: nsqd stopped answering")

// watch is the pool's goroutine. It judges each node by its answers,
// whatever callers' contexts do: a node that has had commands in flight and
// no new answer for longer than StallTimeout is stalled (frozen, or overwhelmed). It is
// skipped for a backoff like any failed node, and its connection is closed,
// so that what it never wrote goes to other nodes (the node's own Producer
// does not resend what a stall left: see fate). It exits when Stop closes
// quit.
func (pp *ProducerPool) watch() {
	defer close(pp.watchDone)
	tick := time.NewTicker(max(pp.cfg.StallTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-pp.quit:
			return
		case now := <-tick.C:
			for _, n := range pp.list() {
				if waited := n.look(now); waited > pp.cfg.StallTimeout {
					err := fmt.Errorf("%w: %w (no answer for %v)", ErrNotConnected, errStalled, waited.Round(time.Millisecond))
					n.report(pp.log, "", err)
					n.holdDown(now.Add(pp.cfg.StallTimeout))
					n.p.dropConn(err)
				}
			}
		}
	}
}
