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
	// async calls PublishAsync from this goroutine with every topic and
	// body next returns until it returns a nil body, while another
	// goroutine drains the done channel, and returns once every result has
	// arrived: acknowledged messages, errors and the first error.
	async func(next func() (string, []byte)) (acked, errs int64, first error)
	stop  func()
}

// newClient connects a Producer of lib to nsqd (Ping) with default settings,
// but for compression comp ("snappy", "deflate" or none), and logging off.
func (b *bench) newClient(lib, comp string) client {
	if lib == libNSQPub {
		cfg := nsqpub.NewConfig()
		cfg.Snappy, cfg.Deflate = comp == "snappy", comp == "deflate"
		p, err := nsqpub.NewProducer(b.n.tcp, cfg)
		if err == nil {
			p.SetLogger(nil, nsqpub.LogLevelError)
		}
		return clientOf(lib, p, err, func(t *nsqpub.ProducerTransaction) error { return t.Error })
	}
	cfg := nsq.NewConfig()
	cfg.Snappy, cfg.Deflate = comp == "snappy", comp == "deflate"
	p, err := nsq.NewProducer(b.n.tcp, cfg)
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
	async := func(next func() (string, []byte)) (int64, int64, error) {
		return asyncRun(next, func(topic string, body []byte, done chan *T) error {
			return p.PublishAsync(topic, body, done)
		}, errOf)
	}
	return client{p.Publish, p.MultiPublish, p.DeferredPublish, async, p.Stop}
}

// libRun runs one mode of k with one library on fresh topics and verifies
// it. Publish i of a goroutine goes to topic (goroutine + i) % topics.
func (b *bench) libRun(k key) result {
	w := b.newWorkload(k)
	c := b.newClient(k.lib, k.comp)
	var stop atomic.Bool
	runtime.GC()
	u0 := b.snapshot()
	timer := time.AfterFunc(b.duration(k), func() { stop.Store(true) })
	var r result
	publish := func(j, i int) error { return c.publish(w.at(j + i)) }
	switch k.mode {
	case "pub1":
		r = syncLoop(1, &stop, 1, publish)
	case "pub64":
		r = syncLoop(pubGoroutines, &stop, 1, publish)
	case "pubg":
		r = syncLoop(k.g, &stop, 1, publish)
	case "multi100":
		n := batchFor(k.size)
		batches := make([][][]byte, len(w.bodies))
		for bi := range batches {
			for m := range n {
				batches[bi] = append(batches[bi], w.bodies[(bi+m)%len(w.bodies)])
			}
		}
		r = syncLoop(1, &stop, int64(n), func(j, i int) error {
			return c.multiPublish(w.topics[i%len(w.topics)], batches[i%len(batches)])
		})
	case "deferred":
		r = syncLoop(b.o.deferredG, &stop, 1, func(j, i int) error {
			topic, body := w.at(j + i)
			return c.deferredPublish(topic, deferDelay, body)
		})
	case "async":
		i := 0
		r.msgs, r.errs, r.err = c.async(func() (string, []byte) {
			if stop.Load() {
				return "", nil
			}
			i++
			return w.at(i - 1)
		})
	}
	end := time.Now()
	u1 := b.snapshot()
	timer.Stop()
	measure(&r, u0, u1, end)
	c.stop()
	b.verify(w.topics, &r)
	return r
}

// syncLoop runs g goroutines that each call f(goroutine, i) for i = 0, 1, …
// until stop is set, counting per messages for each nil return. A goroutine
// stops at its first error.
func syncLoop(g int, stop *atomic.Bool, per int64, f func(j, i int) error) result {
	var (
		wg    sync.WaitGroup
		acked atomic.Int64
		errs  atomic.Int64
		once  sync.Once
		first error
	)
	for j := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int64
			for i := 0; !stop.Load(); i++ {
				if err := f(j, i); err != nil {
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

// asyncRun calls publish for every topic and body next returns, until the
// body is nil,
// from this goroutine, while another goroutine drains the done channel and
// checks every result. It returns once every result has arrived. T is
// nsqpub's or go-nsq's transaction type; errOf reads its Error. Once done
// publishing, this goroutine sends a nil marker on done after setting sent,
// which tells the drainer how many results to wait for.
func asyncRun[T any](next func() (string, []byte), publish func(topic string, body []byte, done chan *T) error, errOf func(*T) error) (acked, errs int64, first error) {
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
	for topic, body := next(); body != nil; topic, body = next() {
		if err := publish(topic, body, done); err != nil {
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
