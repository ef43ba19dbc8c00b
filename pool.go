package nsqpub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PoolStrategy chooses the nsqd node for each publish of a ProducerPool.
type PoolStrategy int

const (
	// RoundRobin spreads publishes over the healthy nodes in turn (default).
	RoundRobin PoolStrategy = iota
	// Failover sends every publish to the first healthy node in the order
	// the addresses were given, moving on only when it fails.
	Failover
)

// String returns the strategy's name as Config.Set takes it.
func (s PoolStrategy) String() string {
	if s == Failover {
		return "failover"
	}
	return "round-robin"
}

// ErrNoHealthyNode is wrapped by the error of a pool publish when every node
// failed recently and is waiting out its backoff. Such a publish was not
// sent (OutcomeOf says NotSent).
var ErrNoHealthyNode = errors.New("no healthy nsqd node")

// ProducerPool publishes to several nsqd nodes, one Producer each, choosing
// a node per publish by Config.PoolStrategy. A node whose publish fails
// without reaching nsqd is skipped for a backoff (exponential with jitter,
// as for reconnects), then tried again, and is healthy again once it
// answers. A publish that failed with NotSent goes to the next healthy node;
// one with an Unknown outcome does so only with Config.AtLeastOnce; a
// Rejected one (bad topic, too big, unauthorized) is never retried. A
// context cancelled by the caller never counts against a node. Addresses are
// resolved again on every dial, so nodes behind DNS may move. All methods
// are safe for concurrent use.
type ProducerPool struct {
	nodes []*poolNode
	cfg   Config
	lim   limits
	log   *logState
	rr    atomic.Uint64

	results chan *ProducerTransaction // async results from every node
	fwdDone chan struct{}             // closed when the forwarder exits

	mu       sync.Mutex
	stopping bool           // guarded by mu
	retries  sync.WaitGroup // async retries in progress
	stopOnce sync.Once
}

// poolNode is one nsqd of a pool and its health.
type poolNode struct {
	p *Producer

	mu        sync.Mutex
	failures  int       // failures in a row
	downUntil time.Time // skipped until then
	lastErr   error
}

// poolCall is what a pool keeps with an asynchronous publish while it is
// tried on its nodes.
type poolCall struct {
	done  chan *ProducerTransaction
	args  []interface{}
	tried uint64 // bit i: node i was tried
}

// NewProducerPool returns a pool over the nsqd TCP addresses addrs (at
// least one, at most 64), each with a Producer made from a copy of config,
// which is validated as by NewProducer. Nothing connects until the first
// publish.
func NewProducerPool(addrs []string, config *Config) (*ProducerPool, error) {
	if err := config.Validate(); err != nil {
		return nil, err
	}
	if len(addrs) == 0 || len(addrs) > 64 {
		return nil, fmt.Errorf("%w: a pool needs 1 to 64 nsqd addresses, got %d", ErrInvalidConfig, len(addrs))
	}
	pp := &ProducerPool{
		cfg:     *config,
		results: make(chan *ProducerTransaction, 1024),
		fwdDone: make(chan struct{}),
	}
	pp.cfg.setDefaults()
	pp.lim = limits{maxMsgSize: pp.cfg.MaxMsgSize, maxBodySize: pp.cfg.MaxBodySize, maxDeferDelay: pp.cfg.MaxDeferDelay}
	pp.log = &logState{addr: "pool", slog: pp.cfg.Logger}
	for _, addr := range addrs {
		p, err := NewProducer(addr, config)
		if err != nil {
			return nil, err
		}
		pp.nodes = append(pp.nodes, &poolNode{p: p})
	}
	go pp.forward()
	return pp, nil
}

// String returns the nodes' addresses, comma-separated.
func (pp *ProducerPool) String() string {
	addrs := make([]string, len(pp.nodes))
	for i, n := range pp.nodes {
		addrs[i] = n.p.addr
	}
	return strings.Join(addrs, ",")
}

// Publish publishes body to topic on one node, as Producer.Publish.
func (pp *ProducerPool) Publish(topic string, body []byte) error {
	return pp.PublishContext(context.Background(), topic, body)
}

// PublishContext is Publish bounded by ctx, as Producer.PublishContext.
func (pp *ProducerPool) PublishContext(ctx context.Context, topic string, body []byte) error {
	return pp.do(ctx, command{kind: cmdPUB, topic: topic, body: body})
}

// MultiPublish publishes the bodies to topic in one MPUB on one node.
func (pp *ProducerPool) MultiPublish(topic string, body [][]byte) error {
	return pp.MultiPublishContext(context.Background(), topic, body)
}

// MultiPublishContext is MultiPublish bounded by ctx.
func (pp *ProducerPool) MultiPublishContext(ctx context.Context, topic string, body [][]byte) error {
	return pp.do(ctx, command{kind: cmdMPUB, topic: topic, bodies: body})
}

// DeferredPublish publishes body to topic with a delay on one node.
func (pp *ProducerPool) DeferredPublish(topic string, delay time.Duration, body []byte) error {
	return pp.DeferredPublishContext(context.Background(), topic, delay, body)
}

// DeferredPublishContext is DeferredPublish bounded by ctx.
func (pp *ProducerPool) DeferredPublishContext(ctx context.Context, topic string, delay time.Duration, body []byte) error {
	return pp.do(ctx, command{kind: cmdDPUB, topic: topic, delay: delay, body: body})
}

// PublishAsync queues body for topic on one node and returns; the result,
// after any retries on other nodes, arrives on doneChan as with
// Producer.PublishAsync.
func (pp *ProducerPool) PublishAsync(topic string, body []byte, doneChan chan *ProducerTransaction, args ...interface{}) error {
	return pp.doAsync(command{kind: cmdPUB, topic: topic, body: body}, doneChan, args)
}

// MultiPublishAsync is MultiPublish with the result sent on doneChan.
func (pp *ProducerPool) MultiPublishAsync(topic string, body [][]byte, doneChan chan *ProducerTransaction, args ...interface{}) error {
	return pp.doAsync(command{kind: cmdMPUB, topic: topic, bodies: body}, doneChan, args)
}

// DeferredPublishAsync is DeferredPublish with the result sent on doneChan.
func (pp *ProducerPool) DeferredPublishAsync(topic string, delay time.Duration, body []byte, doneChan chan *ProducerTransaction, args ...interface{}) error {
	return pp.doAsync(command{kind: cmdDPUB, topic: topic, delay: delay, body: body}, doneChan, args)
}

// Ping pings every node and returns nil if at least one answered, or the
// errors of all of them.
func (pp *ProducerPool) Ping() error { return pp.PingContext(context.Background()) }

// PingContext is Ping bounded by ctx.
func (pp *ProducerPool) PingContext(ctx context.Context) error {
	errs := make([]error, len(pp.nodes))
	var wg sync.WaitGroup
	for i, n := range pp.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.p.PingContext(ctx)
			if ctx.Err() == nil {
				n.report(pp.log, "", errs[i])
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err == nil {
			return nil
		}
	}
	return errors.Join(errs...)
}

// SetLogger sets a go-nsq style logger on the pool and every node.
func (pp *ProducerPool) SetLogger(l logger, lvl LogLevel) {
	pp.log.mu.Lock()
	pp.log.l, pp.log.lvl = l, lvl
	pp.log.mu.Unlock()
	for _, n := range pp.nodes {
		n.p.SetLogger(l, lvl)
	}
}

// do validates a publish and tries it on the nodes in the strategy's order
// until one takes it or the outcome forbids going on.
func (pp *ProducerPool) do(ctx context.Context, cmd command) error {
	if pp.isStopping() {
		return ErrStopped
	}
	if err := pp.lim.check(&cmd); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // never sent, and no node is involved
	}
	var tried uint64
	for {
		i, err := pp.pick(tried)
		if err != nil {
			return err
		}
		tried |= 1 << i
		n := pp.nodes[i]
		err = n.p.run(ctx, cmd)
		if !pp.retry(n, cmd.topic, err, ctx.Err() != nil) {
			return err
		}
	}
}

// retry records what err, the result of a publish to topic, says of node
// n and reports whether the publish should go to another node. A publish
// that ended because the caller's context ended (cancelled) tells nothing
// about the node.
func (pp *ProducerPool) retry(n *poolNode, topic string, err error, cancelled bool) bool {
	if cancelled || errors.Is(err, ErrStopped) {
		return false
	}
	n.report(pp.log, topic, err)
	switch OutcomeOf(err) {
	case NotSent:
		return true
	case Unknown:
		return pp.cfg.AtLeastOnce
	}
	return false
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

// pick returns the index of the next node to try, skipping the nodes in
// tried and those waiting out a backoff.
func (pp *ProducerPool) pick(tried uint64) (int, error) {
	now := time.Now()
	k := len(pp.nodes)
	start := 0
	if pp.cfg.PoolStrategy == RoundRobin {
		start = int(pp.rr.Add(1) % uint64(k))
	}
	for j := 0; j < k; j++ {
		i := (start + j) % k
		if tried&(1<<i) != 0 {
			continue
		}
		n := pp.nodes[i]
		n.mu.Lock()
		up := !now.Before(n.downUntil)
		n.mu.Unlock()
		if up {
			return i, nil
		}
	}
	return 0, pp.noNodeError(tried)
}

// noNodeError describes why no node is left to try.
func (pp *ProducerPool) noNodeError(tried uint64) error {
	var b strings.Builder
	for i, n := range pp.nodes {
		n.mu.Lock()
		if i > 0 {
			b.WriteString("; ")
		}
		switch {
		case tried&(1<<i) != 0 && n.lastErr != nil:
			fmt.Fprintf(&b, "%s: %v", n.p.addr, n.lastErr)
		case n.lastErr != nil:
			fmt.Fprintf(&b, "%s: down for %v after: %v", n.p.addr, time.Until(n.downUntil).Round(time.Millisecond), n.lastErr)
		default:
			fmt.Fprintf(&b, "%s: tried", n.p.addr)
		}
		n.mu.Unlock()
	}
	return fmt.Errorf("%w: %w: %s", ErrNotConnected, ErrNoHealthyNode, b.String())
}

// doAsync validates an asynchronous publish and submits it to a node.
func (pp *ProducerPool) doAsync(cmd command, doneChan chan *ProducerTransaction, args []interface{}) error {
	if pp.isStopping() {
		return ErrStopped
	}
	if err := pp.lim.check(&cmd); err != nil {
		return err
	}
	return pp.submitAsync(cmd, &poolCall{done: doneChan, args: args})
}

// submitAsync queues cmd on the healthy nodes pc has not tried, in the
// strategy's order, until one takes it. It returns nil, the error that
// forbids going on, or pick's error when no node is left.
func (pp *ProducerPool) submitAsync(cmd command, pc *poolCall) error {
	for {
		i, err := pp.pick(pc.tried)
		if err != nil {
			return err
		}
		pc.tried |= 1 << i
		n := pp.nodes[i]
		err = n.p.submitAsync(cmd, pp.results, []interface{}{pc})
		if err == nil || !pp.retry(n, cmd.topic, err, false) {
			return err
		}
	}
}

// forward is the pool's goroutine: it takes every node's asynchronous
// results, sends a publish that may go elsewhere to another node (in a
// goroutine of its own, so that a full node never blocks the results of
// the others), and delivers the rest to the caller's done channel.
func (pp *ProducerPool) forward() {
	defer close(pp.fwdDone)
	for t := range pp.results {
		pc := t.Args[0].(*poolCall)
		n := pp.nodeOf(t)
		if t.Error != nil && pp.retry(n, t.cmd.topic, t.Error, false) {
			pp.mu.Lock()
			if !pp.stopping {
				pp.retries.Add(1)
				pp.mu.Unlock()
				go pp.retryAsync(t, pc)
				continue
			}
			pp.mu.Unlock()
		} else if t.Error == nil {
			n.report(pp.log, t.cmd.topic, nil)
		}
		deliver(t, pc, t.Error)
	}
}

// nodeOf returns the node whose Producer completed t.
func (pp *ProducerPool) nodeOf(t *ProducerTransaction) *poolNode {
	for _, n := range pp.nodes {
		if t.ctr == &n.p.ctr {
			return n
		}
	}
	return pp.nodes[0]
}

// retryAsync submits a failed asynchronous publish to another node, or
// delivers its last error when no node is left.
func (pp *ProducerPool) retryAsync(t *ProducerTransaction, pc *poolCall) {
	defer pp.retries.Done()
	err := pp.submitAsync(t.cmd, pc)
	if errors.Is(err, ErrNoHealthyNode) {
		err = fmt.Errorf("%w (after: %v)", err, t.Error)
	}
	if err != nil {
		deliver(t, pc, err)
	}
}

// deliver hands the caller a result with its own arguments.
func deliver(t *ProducerTransaction, pc *poolCall, err error) {
	t.Error, t.Args, t.doneChan = err, pc.args, pc.done
	if pc.done != nil {
		pc.done <- t
	}
}

// isStopping reports whether Stop has been called.
func (pp *ProducerPool) isStopping() bool {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.stopping
}

// Stop stops every node as Producer.Stop does (in parallel), delivers every
// outstanding asynchronous result, and returns once no goroutine of the
// pool is left. Safe to call more than once and concurrently.
func (pp *ProducerPool) Stop() {
	pp.stopOnce.Do(func() {
		pp.mu.Lock()
		pp.stopping = true
		pp.mu.Unlock()
		var wg sync.WaitGroup
		for _, n := range pp.nodes {
			wg.Add(1)
			go func() { defer wg.Done(); n.p.Stop() }()
		}
		wg.Wait()
		pp.retries.Wait()
		close(pp.results)
		<-pp.fwdDone
		pp.log.log(LogLevelInfo, "stopped")
	})
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
// failure counts are failed attempts, not failed publishes.
type PoolStats struct {
	Nodes                                 []NodeStats
	Published, Rejected, NotSent, Unknown uint64
	InFlight                              int64
}

// Stats returns a snapshot of every node's counters and health. It is cheap
// and safe for concurrent use.
func (pp *ProducerPool) Stats() PoolStats {
	var s PoolStats
	now := time.Now()
	for _, n := range pp.nodes {
		ns := NodeStats{ProducerStats: n.p.Stats()}
		n.mu.Lock()
		ns.Failures, ns.DownUntil = n.failures, n.downUntil
		ns.Healthy = !now.Before(n.downUntil)
		n.mu.Unlock()
		s.Nodes = append(s.Nodes, ns)
		s.Published += ns.Published
		s.Rejected += ns.Rejected
		s.NotSent += ns.NotSent
		s.Unknown += ns.Unknown
		s.InFlight += ns.InFlight
	}
	return s
}
