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

// ProducerPool publishes to several nsqd nodes, one Producer each, choosing
// a node per publish by Config.PoolStrategy. A node whose publish fails
// without reaching nsqd is skipped for a backoff (exponential with jitter,
// as for reconnects), then tried again, and is healthy again once it
// answers. A publish that failed with NotSent goes to the next healthy node;
// one with an Unknown outcome does so only with Config.AtLeastOnce; a
// Rejected one (bad topic, too big, unauthorized) is never retried. A
// context cancelled by the caller never counts against a node. Addresses are
// resolved again on every dial, so nodes behind DNS may move. The nodes are
// the fixed addresses given to NewProducerPool and those nsqlookupd lists
// (ConnectToNSQLookupd). All methods are safe for concurrent use.
type ProducerPool struct {
	publishing // the publish methods, bound to do and doAsync

	// nodes is the rotation, copy-on-write: publishers, the watch and
	// Stats load it without a lock and never modify what they loaded; it is
	// replaced only under mu (pool_set.go).
	nodes   atomic.Pointer[[]*poolNode]
	nodeCfg Config // the caller's Config, for the Producers of discovered nodes; read-only
	cfg     Config // nodeCfg with defaults; read-only
	lim     limits
	log     *logState
	rr      atomic.Uint64

	mail    *mailer       // delivers asynchronous results
	refused atomic.Uint64 // messages refused by validation before any node was chosen
	ctr     poolCounters  // discovery's counters

	quit      chan struct{} // closed by Stop: the watch goroutine exits
	watchDone chan struct{} // closed when it has

	mu       sync.Mutex
	stopping bool           // guarded by mu
	slots    uint64         // guarded by mu: bit i, slot i is held by a node (in nodes or draining)
	draining []*poolNode    // guarded by mu: removed nodes whose Producer is stopping
	retired  PoolStats      // guarded by mu: the summed counts of removed nodes once drained
	changed  chan struct{}  // guarded by mu: closed and replaced when nodes changes or Stop begins
	disc     *discovery     // guarded by mu: nil until ConnectToNSQLookupd
	drains   sync.WaitGroup // drain goroutines of removed nodes
	retries  sync.WaitGroup // async retries in progress
	stopOnce sync.Once
}

// NewProducerPool returns a pool over the nsqd TCP addresses addrs (at
// most 64), each with a Producer made from a copy of config, which is
// validated as by NewProducer. addrs may be empty when the nodes are to be
// discovered with ConnectToNSQLookupd; nodes discovered beside fixed
// addresses join them, up to 64 in all. Nothing connects until the first
// publish. Errors wrap ErrInvalidConfig.
func NewProducerPool(addrs []string, config *Config) (*ProducerPool, error) {
	if err := config.Validate(); err != nil {
		return nil, err
	}
	if len(addrs) > maxNodes {
		return nil, fmt.Errorf("%w: a pool takes at most %d nsqd addresses, got %d", ErrInvalidConfig, maxNodes, len(addrs))
	}
	pp := &ProducerPool{
		nodeCfg:   *config,
		cfg:       *config,
		quit:      make(chan struct{}),
		watchDone: make(chan struct{}),
		changed:   make(chan struct{}),
	}
	pp.cfg.setDefaults()
	pp.mail = newMailer(pp.cfg.MaxQueued)
	pp.publishing = publishing{sync: pp.do, async: pp.doAsync}
	pp.lim = limits{maxMsgSize: pp.cfg.MaxMsgSize, maxBodySize: pp.cfg.MaxBodySize, maxDeferDelay: pp.cfg.MaxDeferDelay}
	pp.log = newLogState("pool", pp.cfg.Logger)
	nodes := []*poolNode{}
	for i, addr := range addrs {
		p, err := NewProducer(addr, config)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, &poolNode{p: p, slot: i, fixed: true})
		pp.slots |= 1 << i
	}
	pp.nodes.Store(&nodes)
	go pp.watch()
	return pp, nil
}

// String returns the nodes' addresses, comma-separated.
func (pp *ProducerPool) String() string {
	nodes := pp.list()
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.p.addr
	}
	return strings.Join(addrs, ",")
}

// Ping pings every node and returns nil if at least one answered, or the
// errors of all of them (ErrNoHealthyNode, wrapped, when no node is known).
func (pp *ProducerPool) Ping() error { return pp.PingContext(context.Background()) }

// PingContext is Ping bounded by ctx.
func (pp *ProducerPool) PingContext(ctx context.Context) error {
	nodes := pp.list()
	if len(nodes) == 0 {
		return pp.noNodeError(0)
	}
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
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

// SetLogger sets a go-nsq style logger on the pool and every node, and on
// the nodes discovered later, as Producer.SetLogger does. Safe for
// concurrent use.
func (pp *ProducerPool) SetLogger(l logger, lvl LogLevel) {
	pp.setLog(func(s *logState) { s.setAll(l, lvl) })
}

// SetLoggerForLevel makes l the logger of the lines of level lvl only, on
// the pool and every node, as Producer.SetLoggerForLevel does. Safe for
// concurrent use.
func (pp *ProducerPool) SetLoggerForLevel(l logger, lvl LogLevel) {
	pp.setLog(func(s *logState) { s.setFor(l, lvl) })
}

// SetLoggerLevel changes the minimum level logged, on the pool and every
// node, as Producer.SetLoggerLevel does. Safe for concurrent use.
func (pp *ProducerPool) SetLoggerLevel(lvl LogLevel) {
	pp.setLog(func(s *logState) { s.setLevel(lvl) })
}

// setLog changes the pool's loggers with set and gives every node the
// result, under mu so that a node added meanwhile gets it too.
func (pp *ProducerPool) setLog(set func(*logState)) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	set(pp.log)
	for _, n := range pp.list() {
		pp.log.copyTo(n.p.log)
	}
}

// do validates a publish and tries it on the nodes in the strategy's order
// until one takes it or the outcome forbids going on.
func (pp *ProducerPool) do(ctx context.Context, cmd command) error {
	if pp.isStopping() {
		return ErrStopped
	}
	if err := pp.lim.check(&cmd); err != nil {
		pp.refused.Add(uint64(cmd.count()))
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // never sent, and no node is involved
	}
	var tried uint64
	for {
		n, err := pp.pick(tried, cmd.topic)
		if err != nil {
			if tried == 0 && len(pp.list()) == 0 && pp.awaitNodes(ctx) {
				continue
			}
			return err
		}
		tried |= 1 << n.slot
		if err := n.p.model.check(&cmd); err != nil {
			n.p.ctr.failed(err, cmd.count())
			return err // over a limit this nsqd stated
		}
		err = n.p.run(ctx, cmd)
		if !pp.retry(n, cmd.topic, err, ctx.Err() != nil) {
			return err
		}
	}
}

// retry records what err, the result of a publish to topic, says of node
// n and reports whether the publish should go to another node. A publish
// that ended because the caller's context ended (cancelled) tells nothing
// about the node. A node that discovery removed stops its Producer: what
// it then refuses with ErrStopped goes to another node.
func (pp *ProducerPool) retry(n *poolNode, topic string, err error, cancelled bool) bool {
	if cancelled {
		return false
	}
	if errors.Is(err, ErrStopped) {
		return n.gone.Load() && !pp.isStopping()
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

// isStopping reports whether Stop has been called.
func (pp *ProducerPool) isStopping() bool {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.stopping
}

// Stop stops polling nsqlookupd, stops every node as Producer.Stop does (in
// parallel, removed nodes still draining included), delivers every
// outstanding asynchronous result (dropping, after StopTimeout, those for a
// done channel nobody reads), and returns once no goroutine of the pool is
// left. Safe to call more than once and concurrently.
func (pp *ProducerPool) Stop() {
	pp.stopOnce.Do(func() {
		deadline := time.Now().Add(pp.cfg.StopTimeout)
		pp.mu.Lock()
		pp.stopping = true // from here on the node set never changes
		pp.wake()
		disc := pp.disc
		pp.mu.Unlock()
		if disc != nil {
			disc.stop()
		}
		var wg sync.WaitGroup
		for _, n := range pp.list() {
			wg.Add(1)
			go func() { defer wg.Done(); n.p.Stop() }()
		}
		wg.Wait()
		pp.drains.Wait()
		pp.retries.Wait()
		close(pp.quit)
		<-pp.watchDone
		pp.mail.stop(deadline)
		pp.log.log(LogLevelInfo, "stopped")
	})
}
