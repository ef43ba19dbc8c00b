package nsqpub

import (
	"context"
	"math/bits"
	"slices"
	"sync/atomic"
)

// maxNodes is the most nodes a pool holds at once: a publish records the
// nodes it tried as bits of a uint64, one per slot.
const maxNodes = 64

// poolCounters are the pool's discovery counters, updated with atomics.
type poolCounters struct {
	added, removed, polls, errors atomic.Uint64
}

// The node set.
//
// The rotation (pp.nodes) is a copy-on-write slice: readers (pick, submit,
// the watch, Stats, Ping) load it without a lock and never write to it;
// addNode and removeNode build a new slice and store it, always under
// pp.mu, which also guards stopping. Stop sets stopping under pp.mu before
// it loads the rotation for the last time, so the nodes it stops are the
// last the pool will ever have, and no node is added behind its back.
//
// A reader may still hold an old slice with a node that was removed since.
// Removal sets the node's gone flag first, so eachUp passes over it from
// then on; a publish that picked it just before goes on to its Producer,
// which either takes it before its Stop (and Stop lets it finish within
// StopTimeout) or refuses it with ErrStopped, which retry sends to another
// node. A slot is freed only once the removed node's Producer has stopped,
// so that no two live nodes share a bit of a tried set; a publish that
// tried an old node whose slot a new node took merely skips the new one.

// list returns the rotation: the caller must not modify it.
func (pp *ProducerPool) list() []*poolNode { return *pp.nodes.Load() }

// wake tells the publishers waiting for a node (awaitNodes) to look again.
// The caller holds pp.mu.
func (pp *ProducerPool) wake() {
	close(pp.changed)
	pp.changed = make(chan struct{})
}

// awaitNodes waits, while the pool knows no node at all and discovery is
// on, until one is discovered (true) or ctx ends or the pool stops
// (false). A context that can never end (context.Background) does not
// wait: the publish fails at once with ErrNoHealthyNode.
func (pp *ProducerPool) awaitNodes(ctx context.Context) bool {
	if ctx.Done() == nil {
		return false
	}
	for {
		pp.mu.Lock()
		if pp.stopping || pp.disc == nil {
			pp.mu.Unlock()
			return false
		}
		if len(pp.list()) > 0 {
			pp.mu.Unlock()
			return true
		}
		changed := pp.changed
		pp.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

// addNode puts a Producer for addr in the rotation, after the nodes already
// there, and returns it (nil if the pool is full or addr is unusable). The
// caller holds pp.mu and has checked that the pool is not stopping.
func (pp *ProducerPool) addNode(addr string, from string) *poolNode {
	free := ^pp.slots
	if free == 0 {
		pp.log.log(LogLevelWarning, "node not added: the pool is full", "node", addr, "max_nodes", maxNodes, "lookupd", from)
		return nil
	}
	p, err := NewProducer(addr, &pp.nodeCfg)
	if err != nil {
		pp.log.log(LogLevelWarning, "node not added", "node", addr, "lookupd", from, "error", err)
		return nil
	}
	pp.log.copyTo(p.log)
	n := &poolNode{p: p, slot: bits.TrailingZeros64(free)}
	pp.slots |= 1 << n.slot
	nodes := append(slices.Clip(pp.list()), n)
	pp.nodes.Store(&nodes)
	pp.ctr.added.Add(1)
	pp.log.log(LogLevelInfo, "node added", "node", addr, "lookupd", from, "nodes", len(nodes))
	return n
}

// removeNode takes n out of the rotation at once and stops its Producer in
// a goroutine of its own, which lets the publishes already in flight on it
// finish (within StopTimeout) and then frees its slot. The caller holds
// pp.mu and has checked that the pool is not stopping.
func (pp *ProducerPool) removeNode(n *poolNode) {
	n.gone.Store(true)
	nodes := slices.DeleteFunc(slices.Clone(pp.list()), func(m *poolNode) bool { return m == n })
	pp.nodes.Store(&nodes)
	pp.draining = append(pp.draining, n)
	pp.ctr.removed.Add(1)
	pp.log.log(LogLevelInfo, "node removed", "node", n.p.addr, "reason", "no nsqlookupd lists it", "nodes", len(nodes))
	pp.drains.Add(1)
	go pp.drain(n)
}

// drain is the goroutine that stops a removed node's Producer. It exits
// once the Producer has stopped (bounded by StopTimeout).
func (pp *ProducerPool) drain(n *poolNode) {
	defer pp.drains.Done()
	n.p.Stop()
	st := n.p.Stats()
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.draining = slices.DeleteFunc(pp.draining, func(m *poolNode) bool { return m == n })
	pp.slots &^= 1 << n.slot
	pp.retired.add(st)
}

// setDiscovered makes the discovered part of the rotation match found: the
// node addresses the nsqlookupds list, each with its tombstoned topics
// (nil: none). Nodes found and not yet in the rotation join it; discovered
// nodes no longer found leave it; fixed nodes stay whatever is found, and
// take the tombstones listed for them. from names the nsqlookupd whose poll
// caused the change, for the log.
func (pp *ProducerPool) setDiscovered(found map[string]map[string]bool, from string) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.stopping {
		return
	}
	changed := false
	have := make(map[string]bool, len(found))
	for _, n := range pp.list() {
		tombs, ok := found[n.p.addr]
		switch {
		case ok:
			have[n.p.addr] = true
			n.setTombstones(tombs, pp.log)
		case n.fixed:
			n.setTombstones(nil, pp.log)
		default:
			pp.removeNode(n)
			changed = true
		}
	}
	addrs := make([]string, 0, len(found))
	for addr := range found {
		if !have[addr] {
			addrs = append(addrs, addr)
		}
	}
	slices.Sort(addrs) // a stable order for Failover
	for _, addr := range addrs {
		if n := pp.addNode(addr, from); n != nil {
			n.setTombstones(found[addr], pp.log)
			changed = true
		}
	}
	if changed {
		pp.wake()
	}
}

// setTombstones stores the node's tombstoned topics, logging the change.
func (n *poolNode) setTombstones(tombs map[string]bool, log *logState) {
	old := n.tomb.Load()
	for topic := range tombs {
		if old == nil || !(*old)[topic] {
			log.log(LogLevelInfo, "topic tombstoned on node: not published there", "node", n.p.addr, "topic", topic)
		}
	}
	if old != nil {
		for topic := range *old {
			if !tombs[topic] {
				log.log(LogLevelInfo, "topic no longer tombstoned on node", "node", n.p.addr, "topic", topic)
			}
		}
	}
	if len(tombs) == 0 {
		if old != nil {
			n.tomb.Store(nil)
		}
		return
	}
	n.tomb.Store(&tombs)
}
