package nsqpub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"
)

// ErrLookupd is wrapped by the error of a request to nsqlookupd that failed:
// unreachable, too slow, a status other than 200, or a body that is not a
// list of nodes.
var ErrLookupd = errors.New("nsqlookupd")

// discovery is a pool's polling of nsqlookupd: one poller goroutine per
// nsqlookupd, and what each last listed.
type discovery struct {
	pp     *ProducerPool
	client *http.Client // its Transport keeps no idle connection
	secret string       // sent as a Bearer token; "" for none

	ctx    context.Context // cancelled by stop: requests end, pollers exit
	cancel context.CancelFunc
	wg     sync.WaitGroup // the pollers

	// mu guards what follows, and serializes each poller's update of the
	// union with setDiscovered (lock order: mu, then pp.mu), so that an
	// older union never overwrites a newer one.
	mu       sync.Mutex
	stopped  bool
	lookupds []*lookupd
}

// lookupd is one nsqlookupd a pool polls.
type lookupd struct {
	addr  string        // as the caller gave it; fixed
	url   string        // its /nodes endpoint; fixed
	first chan struct{} // closed by its poller after the first answer or failure
	err   error         // the first poll's error; written before first is closed
	// nodes is what it listed last (node address → tombstoned topics), nil
	// until it first answers; kept when a later poll fails. Guarded by the
	// discovery's mu.
	nodes map[string]map[string]bool
}

// ConnectToNSQLookupd adds an nsqlookupd, by the address of its HTTP API
// (host:port, or a URL such as http://host:4161 or https://host/path), to
// the lookupds the pool polls for the nsqd nodes to publish to, as
// ConnectToNSQLookupds does for one.
func (pp *ProducerPool) ConnectToNSQLookupd(addr string) error {
	return pp.ConnectToNSQLookupds([]string{addr})
}

// ConnectToNSQLookupds adds nsqlookupds, by the addresses of their HTTP API,
// to those the pool polls. Each is asked for GET /nodes at once, then every
// LookupdPollInterval (with LookupdPollJitter), each request bounded by
// LookupdPollTimeout and sending "Authorization: Bearer <AuthSecret>" when
// AuthSecret is set and LookupdAuthorization is true. The pool publishes to
// the union of the nodes they list (broadcast_address:tcp_port) beside its
// fixed addresses; a node no nsqlookupd lists any more leaves the rotation
// (its publishes in flight finish); a topic nsqlookupd lists as tombstoned
// on a node is not published there while other nodes are up. An nsqlookupd
// that fails keeps counting with what it listed last.
//
// It returns once each new nsqlookupd has answered or failed its first
// poll (so within LookupdPollTimeout): nil, or the failures joined, each
// wrapping ErrLookupd; polling goes on either way. An address already
// polled is skipped. A malformed address returns an error wrapping
// ErrInvalidConfig and adds none of addrs; after Stop it returns
// ErrStopped. Safe for concurrent use.
func (pp *ProducerPool) ConnectToNSQLookupds(addrs []string) error {
	urls := make([]string, len(addrs))
	for i, a := range addrs {
		u, err := nodesURL(a)
		if err != nil {
			return fmt.Errorf("%w: nsqlookupd address %q: %w", ErrInvalidConfig, a, err)
		}
		urls[i] = u
	}
	pp.mu.Lock()
	if pp.stopping {
		pp.mu.Unlock()
		return ErrStopped
	}
	if pp.disc == nil {
		pp.disc = newDiscovery(pp)
	}
	d := pp.disc
	pp.mu.Unlock()

	var added []*lookupd
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return ErrStopped
	}
	for i, u := range urls {
		if d.has(u) {
			continue
		}
		l := &lookupd{addr: addrs[i], url: u, first: make(chan struct{})}
		d.lookupds = append(d.lookupds, l)
		added = append(added, l)
		d.wg.Add(1)
		go d.poll(l)
	}
	d.mu.Unlock()
	var errs []error
	for _, l := range added {
		<-l.first
		errs = append(errs, l.err)
	}
	return errors.Join(errs...)
}

// newDiscovery returns the discovery of pp, with an HTTP client bounded by
// LookupdPollTimeout.
func newDiscovery(pp *ProducerPool) *discovery {
	timeout := pp.cfg.LookupdPollTimeout
	tr := &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: timeout}).DialContext,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10,
		DisableKeepAlives:      true, // one request a minute: Stop leaves no connection behind
	}
	d := &discovery{pp: pp, client: &http.Client{Transport: tr, Timeout: timeout}}
	if pp.cfg.AuthSecret != "" && pp.cfg.LookupdAuthorization {
		d.secret = pp.cfg.AuthSecret
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d
}

// has reports whether the nsqlookupd at url is polled. The caller holds mu.
func (d *discovery) has(url string) bool {
	for _, l := range d.lookupds {
		if l.url == url {
			return true
		}
	}
	return false
}

// stop ends every request and waits for the pollers to exit.
func (d *discovery) stop() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
}

// poll is the goroutine that polls l until stop: at once, then after each
// wait. It exits when stop cancels the discovery's context.
func (d *discovery) poll(l *lookupd) {
	defer d.wg.Done()
	first := true
	for {
		err := d.pollOnce(l)
		if first {
			l.err, first = err, false
			close(l.first)
		}
		t := time.NewTimer(d.wait())
		select {
		case <-d.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// wait returns the time until the next poll: LookupdPollInterval times a
// random factor between 1-j/2 and 1+j/2 for the jitter j, so that many
// publishers started together spread their polls.
func (d *discovery) wait() time.Duration {
	iv, j := d.pp.cfg.LookupdPollInterval, d.pp.cfg.LookupdPollJitter
	if j <= 0 {
		return iv
	}
	return time.Duration(float64(iv) * (1 - j/2 + j*rand.Float64()))
}

// pollOnce asks l for its nodes and, if it answered, updates the rotation
// with the union of what every nsqlookupd listed last. A failure is
// counted and logged once, and changes nothing.
func (d *discovery) pollOnce(l *lookupd) error {
	pp := d.pp
	nodes, err := fetchNodes(d.ctx, d.client, l.url, d.secret)
	if d.ctx.Err() != nil {
		return ErrStopped // stopping: neither a failure of l nor news
	}
	pp.ctr.polls.Add(1)
	if err != nil {
		pp.ctr.errors.Add(1)
		err = fmt.Errorf("%w %s: %w", ErrLookupd, l.addr, err)
		pp.log.log(LogLevelWarning, "lookupd poll failed: keeping the nodes known", "lookupd", l.addr, "error", err)
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	l.nodes = nodes
	pp.setDiscovered(d.union(), l.addr)
	return nil
}

// union returns the nodes every nsqlookupd listed last; a topic counts as
// tombstoned on a node if any nsqlookupd says so. The caller holds mu.
func (d *discovery) union() map[string]map[string]bool {
	all := make(map[string]map[string]bool)
	for _, l := range d.lookupds {
		for addr, tombs := range l.nodes {
			merged := all[addr]
			if merged == nil && len(tombs) > 0 {
				merged = make(map[string]bool, len(tombs))
			}
			for topic := range tombs {
				merged[topic] = true
			}
			all[addr] = merged
		}
	}
	return all
}
