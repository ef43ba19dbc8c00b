package nsqpub

import (
	"fmt"
	"runtime"
	"time"
)

// writeLoop is the writer goroutine. It exits when the connection dies,
// after a graceful stop, or at most WriteTimeout after a write error.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	for {
		var err error
		select {
		case t := <-c.txCh:
			c.batch = append(c.batch[:0], t)
			// Let publishers that are ready to run queue their publishes
			// before the batch is cut: with many synchronous publishers
			// this turns one write per publish into one per round. It
			// yields once and never waits, so a lone publish is not
			// delayed.
			runtime.Gosched()
			c.takeQueued()
			err = c.writeBatch()
		case <-c.nopCh:
			err = c.writeNOP()
		case <-c.stopping:
			err = c.finishStop()
		case <-c.dying:
			return
		}
		if err != nil {
			c.writeFailed(err)
			return
		}
		if c.dead() {
			return
		}
	}
}

// writeFailed ends the writer after a write error. It does not fail the
// connection at once: nsqd closes the connection after an error reply, which
// makes writes fail too, and that reply, which the reader may not have read
// yet, decides the fate of everything in flight (refused, or never
// executed). So the reader gets WriteTimeout to read what is left; then the
// connection fails with the write error.
func (c *conn) writeFailed(err error) {
	if err == errConnClosed {
		return
	}
	c.win.failWrite(err)
	timer := time.NewTimer(c.cfg.WriteTimeout)
	defer timer.Stop()
	select {
	case <-timer.C:
		c.fail(fmt.Errorf("writing to nsqd: %w", err))
	case <-c.dying:
	}
}

// takeQueued adds to the batch every transaction already queued, up to the
// batch's capacity. It never waits for more.
func (c *conn) takeQueued() {
	for len(c.batch) < cap(c.batch) {
		select {
		case t := <-c.txCh:
			c.batch = append(c.batch, t)
		default:
			return
		}
	}
}

// finishStop writes what is queued until the queue is empty (the Producer
// takes no new publishes once stopped; only those already waiting to be
// queued still arrive), waits for nsqd's answers, then fails the connection
// with ErrStopped. Producer.Stop bounds all of it by StopTimeout, failing the
// connection when it runs out; what is queued then is reported by exit.
func (c *conn) finishStop() error {
	for {
		c.batch = c.batch[:0]
		c.takeQueued()
		if len(c.batch) == 0 {
			break
		}
		if err := c.writeBatch(); err != nil {
			return err
		}
	}
	if err := c.awaitAnswers(); err != nil {
		return err
	}
	c.fail(ErrStopped)
	return nil
}

// flush pushes buffered commands to the socket, and gives the bytes of the
// publishes written so far back to the byte budget: from here the window
// bounds them.
func (c *conn) flush() error {
	if err := c.bw.Flush(); err != nil {
		return err
	}
	if c.flushRaw != nil {
		if err := c.flushRaw(); err != nil {
			return err
		}
	}
	c.budget.give(c.flushed)
	c.flushed = 0
	return nil
}

// writeBatch writes the batch with one flush. PUBs to one topic are merged
// into one MPUB (within MaxBodySize) whose answer completes them all, even
// when publishes to other topics come between them: each topic's order is
// kept, and nothing of a topic is moved past a command of that topic that
// cannot join (see merge). Transactions abandoned by their context are
// skipped. On error the batch keeps what was not written, for exit.
func (c *conn) writeBatch() error {
	c.nops = c.nops[:0]
	c.linkTopics()
	for i := 0; i < len(c.batch); {
		start, t := i, c.batch[i]
		i++
		if t == nil {
			continue // merged into an earlier MPUB
		}
		if !t.take() {
			c.flushed += int64(t.cmd.bodySize()) // abandoned: its caller no longer touches it
			continue
		}
		cmd := &t.cmd
		size := cmd.bodySize()
		queued := int64(size)
		if err := c.model.check(cmd); err != nil {
			// Over a limit nsqd stated after it was queued: refused here,
			// so that it costs no connection.
			c.flushed += queued
			t.finish(err)
			continue
		}
		if !cmd.answered() {
			c.nops = append(c.nops, t)
			c.scratch = cmd.writeTo(c.bw, c.scratch)
			continue
		}
		s := sent{t: t, wire: size, shape: shapeOf(cmd)}
		suspect := c.model.suspect(s.shape)
		c.pulled, c.pulledBytes = c.pulled[:0], 0
		if cmd.kind == cmdPUB && !t.solo && !suspect {
			if merged := c.merge(&s, start); len(merged.bodies) > 1 {
				cmd = &merged
			}
		}
		if err := c.pushWhenRoom(s); err != nil {
			return c.cutBatch(start, err)
		}
		c.flushed += queued + c.pulledBytes
		for _, j := range c.pulled {
			// The reader owns them now: the batch must forget them, or a
			// cut batch would hand them to exit.
			c.batch[j] = nil
		}
		c.scratch = cmd.writeTo(c.bw, c.scratch)
		if suspect {
			// Nothing goes behind a suspect until nsqd has answered it: if
			// nsqd refuses it and closes the connection, only it fails.
			if err := c.awaitAnswers(); err != nil {
				return c.cutBatch(i, err)
			}
		}
	}
	err := c.flush()
	c.finishNops(err)
	c.batch = c.batch[:0]
	return err
}

// cutBatch ends a batch that failed with err: the batch keeps only what
// from index i on was never written, for exit to report. What was written
// is the reader's now, and may even be finished and reused by its caller,
// so exit must not see it: the members merged from later in the batch were
// set to nil when their MPUB was pushed.
func (c *conn) cutBatch(i int, err error) error {
	c.finishNops(err)
	c.batch = c.batch[i:]
	return err
}

// linkTopics sets next[i] to the index of the next command in the batch to
// the topic of batch[i] (-1 if none), so that merge walks one topic's
// publishes without looking at the others. Runs of one topic need no map
// lookup: lastOf learns a run's last index only when another topic starts.
func (c *conn) linkTopics() {
	if c.lastOf == nil {
		c.lastOf = make(map[string]int32)
	}
	clear(c.lastOf)
	c.next = c.next[:0]
	run := int32(-1) // index of the last command of the current run
	for i, t := range c.batch {
		c.next = append(c.next, -1)
		if t.cmd.kind == cmdNOP {
			continue // no topic
		}
		topic := t.cmd.topic
		if run >= 0 && c.batch[run].cmd.topic == topic {
			c.next[run], run = int32(i), int32(i)
			continue
		}
		if run >= 0 {
			c.lastOf[c.batch[run].cmd.topic] = run
		}
		if last, ok := c.lastOf[topic]; ok {
			c.next[last] = int32(i)
		}
		run = int32(i)
	}
}

// merge takes the PUBs to s's topic that follow s's transaction (at index
// head of the batch), whatever other topics lie between, and links them
// behind it, bringing s's body size and largest message up to date. It
// stops at the first command to that topic that cannot join (not a PUB,
// sent alone, over MaxBodySize together, or larger than anything nsqd has
// accepted), so that the topic's order is kept: that one heads a command of
// its own later in the batch. The indices of the members go to c.pulled, to
// be set to nil once the MPUB is pushed, and their budget bytes to
// c.pulledBytes. It returns the MPUB that carries
// them all (one body if nothing followed).
func (c *conn) merge(s *sent, head int) command {
	t := s.t
	c.merged = append(c.merged[:0], t.cmd.body)
	size, last := 8+len(t.cmd.body), t
	limit := c.model.bodyLimit(c.cfg.MaxBodySize)
	accepted := int(c.model.accSize.Load())
	for j := c.next[head]; j >= 0; j = c.next[j] {
		u := c.batch[j]
		if u.cmd.kind != cmdPUB || u.solo || size+4+len(u.cmd.body) > limit || len(u.cmd.body) > accepted {
			break // a body larger than any accepted is a suspect: it goes alone
		}
		if u.take() {
			last.next, last = u, u
			c.merged = append(c.merged, u.cmd.body)
			c.pulled = append(c.pulled, j)
			c.pulledBytes += int64(len(u.cmd.body))
			size += 4 + len(u.cmd.body)
			s.shape.maxBody = max(s.shape.maxBody, len(u.cmd.body))
		}
	}
	if len(c.merged) > 1 {
		s.wire = size
	}
	return command{kind: cmdMPUB, topic: t.cmd.topic, bodies: c.merged}
}

// pushWhenRoom puts s on the window before its bytes are written. While the
// window is full it flushes, so that nsqd can answer what it holds, and
// waits for room. If the connection dies first, s's transactions go back to
// the queued state, unlinked, and stay in the batch for exit.
func (c *conn) pushWhenRoom(s sent) error {
	for !c.win.push(s) {
		err := c.flush()
		if err == nil {
			err = c.waitRoom()
		}
		if err != nil {
			s.t.eachMember(func(u *tx) { u.requeue() })
			return err
		}
	}
	return nil
}

// waitRoom waits until the reader has popped an answer from the window,
// answering heartbeats meanwhile. The buffer holds only whole commands
// here, so a NOP may go behind them.
func (c *conn) waitRoom() error {
	for {
		select {
		case <-c.win.room:
			return nil
		case <-c.nopCh:
			if err := c.writeNOP(); err != nil {
				return err
			}
		case <-c.dying:
			return errConnClosed
		}
	}
}

// writeNOP answers a heartbeat with a NOP, flushed at once.
func (c *conn) writeNOP() error {
	nop := command{kind: cmdNOP}
	c.scratch = nop.writeTo(c.bw, c.scratch)
	return c.flush()
}

// awaitAnswers flushes and waits until nsqd has answered everything in
// flight.
func (c *conn) awaitAnswers() error {
	if err := c.flush(); err != nil {
		return err
	}
	for !c.win.empty() {
		if err := c.waitRoom(); err != nil {
			return err
		}
	}
	return nil
}

// finishNops completes the NOPs (Pings) written in this batch.
func (c *conn) finishNops(err error) {
	for _, t := range c.nops {
		t.finish(err)
	}
	c.nops = c.nops[:0]
}
