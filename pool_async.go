package nsqpub

import (
	"errors"
	"fmt"
	"time"
)

// poolCall is the pool's record of one asynchronous publish while it is
// tried on its nodes. It is owned by one goroutine at a time: the caller of
// PublishAsync, then the node connection that holds its transaction, then
// (through complete) a retry goroutine or the mailer.
type poolCall struct {
	pp     *ProducerPool
	cmd    command
	node   *poolNode // the node of the current attempt
	tried  uint64    // bit i: the node in slot i was tried
	done   chan *ProducerTransaction
	result ProducerTransaction // what is sent on done, with the caller's Args
}

// doAsync validates an asynchronous publish and submits it to a node.
func (pp *ProducerPool) doAsync(cmd command, doneChan chan *ProducerTransaction, args []interface{}) error {
	if pp.isStopping() {
		return ErrStopped
	}
	if err := pp.lim.check(&cmd); err != nil {
		pp.refused.Add(uint64(cmd.count()))
		return err
	}
	pp.mail.admit(doneChan) // a caller whose channel is full waits here, alone
	pc := &poolCall{pp: pp, cmd: cmd, done: doneChan, result: ProducerTransaction{Args: args}}
	return pc.submit()
}

// submit queues the publish on the healthy nodes it has not tried, in the
// strategy's order but passing over a node whose queue is full (frozen, or
// only busy) while another has room, until one takes it. It returns nil, the error that
// forbids going on, or pick's error when no node is left.
func (pc *poolCall) submit() error {
	pp := pc.pp
	for {
		n, err := pp.pickRoomy(pc.tried, pc.cmd.topic)
		if err != nil {
			return err
		}
		pc.tried |= 1 << n.slot
		pc.node = n
		if err := n.p.model.check(&pc.cmd); err != nil {
			n.p.ctr.failed(err, pc.cmd.count())
			return err // over a limit this nsqd stated
		}
		err = n.p.submitAsync(&tx{cmd: pc.cmd, call: pc})
		if err == nil || !pp.retry(n, pc.cmd.topic, err, false) {
			return err
		}
	}
}

// pickRoomy returns the node pick would, but prefers one whose queue is not
// full (a node not yet connected counts as not full: its dial is bounded).
// When all are full, it returns the one that has waited for an answer the
// least: the one most likely answering, so that a waiting publish does not
// wait on a frozen node while another drains.
func (pp *ProducerPool) pickRoomy(tried uint64, topic string) (*poolNode, error) {
	var best, roomy *poolNode
	var bestSince time.Time
	pp.eachUp(tried, topic, func(n *poolNode) bool {
		if !n.p.queueFull() {
			roomy = n
			return true
		}
		if since := n.stuck(); best == nil || since.IsZero() || since.After(bestSince) {
			best, bestSince = n, since
			if since.IsZero() {
				bestSince = time.Now()
			}
		}
		return false
	})
	switch {
	case roomy != nil:
		return roomy, nil
	case best != nil:
		return best, nil
	}
	return nil, pp.noNodeError(tried)
}

// complete takes the result of the current attempt, from the goroutine of
// the node's connection that completed it, and never blocks: a publish that
// may go elsewhere is submitted to another node by a goroutine of its own
// (submitting may wait for room in that node's queue), and the rest is
// delivered through the mailer.
func (pc *poolCall) complete(err error) {
	pp := pc.pp
	n := pc.node
	if err == nil {
		n.report(pp.log, pc.cmd.topic, nil)
	} else if pp.retry(n, pc.cmd.topic, err, false) {
		pp.mu.Lock()
		if !pp.stopping {
			pp.retries.Add(1)
			pp.mu.Unlock()
			go pc.retry(err)
			return
		}
		pp.mu.Unlock()
	}
	pc.deliver(err)
}

// retry submits the publish to another node after its attempt failed with
// err, or delivers the error when no node is left.
func (pc *poolCall) retry(err error) {
	defer pc.pp.retries.Done()
	serr := pc.submit()
	if errors.Is(serr, ErrNoHealthyNode) {
		serr = fmt.Errorf("%w (after: %v)", serr, err)
	}
	if serr != nil {
		pc.deliver(serr)
	}
}

// deliver hands the caller its result.
func (pc *poolCall) deliver(err error) {
	pc.result.Error = err
	pc.pp.mail.send(pc.done, &pc.result)
}
