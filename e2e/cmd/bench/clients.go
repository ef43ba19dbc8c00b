package main

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	nsq "github.com/nsqio/go-nsq"
	"github.com/nsqpub/nsqpub"
)

// client is one library's Producer as the modes use it: its methods as
// function values, the same calls for both libraries.
type client struct {
	publish         func(topic string, body []byte) error
	multiPublish    func(topic string, bodies [][]byte) error
	deferredPublish func(topic string, delay time.Duration, body []byte) error
	// async calls PublishAsync from this goroutine with every body next
	// returns until it returns nil, while another goroutine drains the done
	// channel, and returns once every result has arrived: acknowledged
	// messages, errors and the first error.
	async func(topic string, next func() []byte) (acked, errs int64, first error)
	stop  func()
}

// newClient connects a Producer of lib to nsqd (Ping) with default settings
// and logging off.
func (b *bench) newClient(lib string) client {
	if lib == libNSQPub {
		p, err := nsqpub.NewProducer(b.n.tcp, nsqpub.NewConfig())
		if err == nil {
			p.SetLogger(nil, nsqpub.LogLevelError)
		}
		return clientOf(lib, p, err, func(t *nsqpub.ProducerTransaction) error { return t.Error })
	}
	p, err := nsq.NewProducer(b.n.tcp, nsq.NewConfig())
	if err == nil {
		p.SetLogger(nil, nsq.LogLevelError)
	}
	return clientOf(lib, p, err, func(t *nsq.ProducerTransaction) error { return t.Error })
}

// producer is what both libraries' producers offer the bench; T is the
// library's ProducerTransaction.
type producer[T any] interface {
	Ping() error
	Publish(topic string, body []byte) error
	MultiPublish(topic string, body [][]byte) error
	DeferredPublish(topic string, delay time.Duration, body []byte) error
	PublishAsync(topic string, body []byte, done chan *T, args ...interface{}) error
	Stop()
}

// clientOf pings p (made with err) and returns its client; errOf reads a
// result's error. Both libraries go through the same code.
func clientOf[T any](lib string, p producer[T], err error, errOf func(*T) error) client {
	if err == nil {
		err = p.Ping()
	}
	if err != nil {
		fatalf("%s: %v", lib, err)
	}
	async := func(topic string, next func() []byte) (int64, int64, error) {
		return asyncRun(next, func(body []byte, done chan *T) error {
			return p.PublishAsync(topic, body, done)
		}, errOf)
	}
	return client{p.Publish, p.MultiPublish, p.DeferredPublish, async, p.Stop}
}

// libRun runs one mode with one library on a fresh topic and verifies it.
func (b *bench) libRun(lib, mode string, body []byte) result {
	topic := b.newTopic()
	c := b.newClient(lib)
	var stop atomic.Bool
	runtime.GC()
	u0 := b.snapshot()
	timer := time.AfterFunc(b.o.duration, func() { stop.Store(true) })
	var r result
	switch mode {
	case "pub1":
		r = syncLoop(1, &stop, 1, func() error { return c.publish(topic, body) })
	case "pub64":
		r = syncLoop(pubGoroutines, &stop, 1, func() error { return c.publish(topic, body) })
	case "multi100":
		bodies := make([][]byte, batchSize)
		for i := range bodies {
			bodies[i] = body
		}
		r = syncLoop(1, &stop, batchSize, func() error { return c.multiPublish(topic, bodies) })
	case "deferred":
		r = syncLoop(b.o.deferredG, &stop, 1, func() error { return c.deferredPublish(topic, deferDelay, body) })
	case "async":
		r.msgs, r.errs, r.err = c.async(topic, func() []byte {
			if stop.Load() {
				return nil
			}
			return body
		})
	}
	end := time.Now()
	u1 := b.snapshot()
	timer.Stop()
	measure(&r, u0, u1, end)
	c.stop()
	b.verify(topic, &r)
	return r
}

// syncLoop runs g goroutines that each call f until stop is set, counting
// per messages for each nil return. A goroutine stops at its first error.
func syncLoop(g int, stop *atomic.Bool, per int64, f func() error) result {
	var (
		wg    sync.WaitGroup
		acked atomic.Int64
		errs  atomic.Int64
		once  sync.Once
		first error
	)
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int64
			for !stop.Load() {
				if err := f(); err != nil {
					errs.Add(1)
					once.Do(func() { first = err })
					break
				}
				n += per
			}
			acked.Add(n)
		}()
	}
	wg.Wait()
	return result{msgs: acked.Load(), errs: errs.Load(), err: first}
}

// asyncRun calls publish for every body next returns, until it returns nil,
// from this goroutine, while another goroutine drains the done channel and
// checks every result. It returns once every result has arrived. T is
// nsqpub's or go-nsq's transaction type; errOf reads its Error. Once done
// publishing, this goroutine sends a nil marker on done after setting sent,
// which tells the drainer how many results to wait for.
func asyncRun[T any](next func() []byte, publish func(body []byte, done chan *T) error, errOf func(*T) error) (acked, errs int64, first error) {
	done := make(chan *T, asyncDoneBuf)
	drained := make(chan struct{})
	var (
		sent             int64 // set before the marker is sent
		dAcked, dErrs    int64 // written by the drainer before drained closes
		dFirst, pubFirst error
		pubErrs          int64
	)
	go func() {
		defer close(drained)
		var got int64
		want := int64(-1)
		for t := range done {
			if t == nil {
				want = sent
			} else {
				got++
				if err := errOf(t); err != nil {
					dErrs++
					if dFirst == nil {
						dFirst = err
					}
				} else {
					dAcked++
				}
			}
			if got == want {
				return
			}
		}
	}()
	var n int64
	for body := next(); body != nil; body = next() {
		if err := publish(body, done); err != nil {
			pubErrs, pubFirst = 1, err
			break
		}
		n++
	}
	sent = n
	done <- nil
	<-drained
	if pubFirst == nil {
		pubFirst = dFirst
	}
	return dAcked, pubErrs + dErrs, pubFirst
}
