package nsqpub

// Micro-benchmarks against an in-process fake nsqd that answers every
// publish with OK as fast as it can, for profiling without a server:
//
//	go test -run XXX -bench . -benchmem -cpuprofile cpu.out
//
// The scripted fakeConn of fake_test.go reads one command at a time on the
// test's orders and is too slow for this; fastNSQD below parses the stream
// on its own goroutine and batches its replies. It checks the framing of
// every command (including the MPUBs the writer makes by merging PUBs) and
// counts the messages, and each benchmark checks that count at the end.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// fastNSQD is a minimal nsqd for benchmarks. It answers IDENTIFY with a
// plain JSON reply (no TLS, no compression, no AUTH), ignores NOP, and
// answers PUB, DPUB and MPUB with OK. Replies are buffered and flushed
// whenever no more input is buffered, so a batch of commands gets one write.
type fastNSQD struct {
	ln    net.Listener
	msgs  atomic.Int64 // messages received in PUB, DPUB and MPUB
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
	err   error // the first protocol error seen; guarded by mu
}

// newFastNSQD starts a fastNSQD on a loopback port. It is closed, and its
// goroutines waited for, at the end of the benchmark.
func newFastNSQD(tb testing.TB) *fastNSQD {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	f := &fastNSQD{ln: ln}
	f.wg.Add(1)
	go f.acceptLoop()
	tb.Cleanup(f.close)
	return f
}

// addr is the fake's TCP address.
func (f *fastNSQD) addr() string { return f.ln.Addr().String() }

// acceptLoop serves every connection on its own goroutine.
func (f *fastNSQD) acceptLoop() {
	defer f.wg.Done()
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, nc)
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			if err := f.serve(nc); err != nil {
				f.fail(err)
			}
			nc.Close()
		}()
	}
}

// close stops accepting, closes every connection and waits for the goroutines.
func (f *fastNSQD) close() {
	f.ln.Close()
	f.mu.Lock()
	for _, nc := range f.conns {
		nc.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// fail records the first protocol error.
func (f *fastNSQD) fail(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

// check fails the benchmark if the fake saw a protocol error or did not
// receive exactly want messages. Call it after the Producer is stopped.
func (f *fastNSQD) check(tb testing.TB, want int64) {
	tb.Helper()
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		tb.Fatalf("fast nsqd: %v", err)
	}
	if got := f.msgs.Load(); got != want {
		tb.Fatalf("fast nsqd received %d messages, want %d", got, want)
	}
}

// fastIdentifyReply is the fake's IDENTIFY reply frame.
var fastIdentifyReply = appendFrame(nil, frameTypeResponse,
	[]byte(`{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,"tls_v1":false,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":false,"sample_rate":0,"auth_required":false,"output_buffer_size":16384,"output_buffer_timeout":250}`))

// fastOKReply is an OK frame.
var fastOKReply = appendFrame(nil, frameTypeResponse, frameOK)

// serve runs one connection until the client closes it. It returns an error
// only for a protocol violation; a closed connection ends it quietly.
func (f *fastNSQD) serve(nc net.Conn) error {
	r := bufio.NewReaderSize(nc, 64<<10)
	w := bufio.NewWriterSize(nc, 16<<10)
	magic, err := r.Peek(4)
	if err != nil {
		return nil
	}
	if string(magic) != magicV2 {
		return fmt.Errorf("magic %q", magic)
	}
	r.Discard(4)
	for {
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return nil
			}
		}
		line, err := r.ReadSlice('\n')
		if err != nil {
			if len(line) == 0 && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)) {
				return nil
			}
			return fmt.Errorf("reading a command line: %v (got %q)", err, line)
		}
		name, args, _ := bytes.Cut(line[:len(line)-1], []byte(" "))
		switch string(name) {
		case "NOP":
			continue
		case "IDENTIFY":
			if _, err := readBody(r); err != nil {
				return err
			}
			w.Write(fastIdentifyReply)
			continue
		case "PUB":
			if len(args) == 0 || bytes.IndexByte(args, ' ') >= 0 {
				return fmt.Errorf("bad PUB line %q", line)
			}
			if _, err := readBody(r); err != nil {
				return err
			}
			f.msgs.Add(1)
		case "DPUB":
			topic, ms, ok := bytes.Cut(args, []byte(" "))
			if !ok || len(topic) == 0 || len(ms) == 0 {
				return fmt.Errorf("bad DPUB line %q", line)
			}
			if _, err := readBody(r); err != nil {
				return err
			}
			f.msgs.Add(1)
		case "MPUB":
			if len(args) == 0 || bytes.IndexByte(args, ' ') >= 0 {
				return fmt.Errorf("bad MPUB line %q", line)
			}
			n, err := readMPUB(r)
			if err != nil {
				return err
			}
			f.msgs.Add(int64(n))
		default:
			return fmt.Errorf("unknown command %q", line)
		}
		w.Write(fastOKReply)
	}
}

// readUint32 reads a big-endian uint32 without allocating.
func readUint32(r *bufio.Reader) (uint32, error) {
	b, err := r.Peek(4)
	if err != nil {
		return 0, fmt.Errorf("reading a size: %w", unexpectedEOF(err))
	}
	v := binary.BigEndian.Uint32(b)
	r.Discard(4)
	return v, nil
}

// readBody skips a sized body and returns its size; it must not be empty.
func readBody(r *bufio.Reader) (int, error) {
	n, err := readUint32(r)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, errors.New("empty body")
	}
	if _, err := r.Discard(int(n)); err != nil {
		return 0, fmt.Errorf("reading a body of %d bytes: %w", n, unexpectedEOF(err))
	}
	return int(n), nil
}

// readMPUB reads an MPUB body, checks that its size matches the sizes of
// its messages, and returns the number of messages.
func readMPUB(r *bufio.Reader) (int, error) {
	size, err := readUint32(r)
	if err != nil {
		return 0, err
	}
	count, err := readUint32(r)
	if err != nil {
		return 0, err
	}
	if count == 0 {
		return 0, errors.New("MPUB of 0 messages")
	}
	rest := int64(size) - 4
	for i := uint32(0); i < count; i++ {
		n, err := readBody(r)
		if err != nil {
			return 0, fmt.Errorf("MPUB message %d of %d: %w", i, count, err)
		}
		rest -= 4 + int64(n)
	}
	if rest != 0 {
		return 0, fmt.Errorf("MPUB body size %d does not match its %d messages (off by %d)", size, count, rest)
	}
	return int(count), nil
}

// benchSizes are the message sizes of the publishing benchmarks.
var benchSizes = []struct {
	name string
	size int
}{{"100B", 100}, {"4KiB", 4096}}

// benchBody returns a message body of size bytes.
func benchBody(size int) []byte { return bytes.Repeat([]byte("x"), size) }

// benchProducer returns a Producer connected (through Ping) to a fresh
// fastNSQD.
func benchProducer(b *testing.B) (*Producer, *fastNSQD) {
	b.Helper()
	f := newFastNSQD(b)
	p, err := NewProducer(f.addr(), NewConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Stop)
	if err := p.Ping(); err != nil {
		b.Fatal(err)
	}
	return p, f
}

// BenchmarkCommandEncode measures encoding a PUB and an MPUB of 100
// messages of 100 bytes into a reused buffer.
func BenchmarkCommandEncode(b *testing.B) {
	body := benchBody(100)
	bodies := make([][]byte, 100)
	for i := range bodies {
		bodies[i] = body
	}
	cases := []struct {
		name string
		cmd  command
	}{
		{"PUB", command{kind: cmdPUB, topic: "bench", body: body}},
		{"MPUB100", command{kind: cmdMPUB, topic: "bench", bodies: bodies}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			buf := c.cmd.appendTo(nil)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				buf = c.cmd.appendTo(buf[:0])
			}
		})
	}
}

// BenchmarkPublish measures Publish from one goroutine: one round trip per
// message.
func BenchmarkPublish(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			p, f := benchProducer(b)
			body := benchBody(s.size)
			b.SetBytes(int64(s.size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := p.Publish("bench", body); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			p.Stop()
			f.check(b, int64(b.N))
		})
	}
}

// BenchmarkPublishParallel measures Publish from about 64 goroutines
// sharing one Producer, whose writer merges what they queue into MPUBs.
func BenchmarkPublishParallel(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			p, f := benchProducer(b)
			body := benchBody(s.size)
			b.SetBytes(int64(s.size))
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := p.Publish("bench", body); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			p.Stop()
			if !b.Failed() {
				f.check(b, int64(b.N))
			}
		})
	}
}

// BenchmarkPublishAsync measures PublishAsync from one goroutine while
// another drains the done channel and checks every result.
func BenchmarkPublishAsync(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			p, f := benchProducer(b)
			body := benchBody(s.size)
			done := make(chan *ProducerTransaction, 1024)
			var failed atomic.Int64
			var firstErr atomic.Pointer[error]
			drained := make(chan struct{})
			b.SetBytes(int64(s.size))
			b.ReportAllocs()
			b.ResetTimer()
			go func() {
				defer close(drained)
				for range b.N {
					if t := <-done; t.Error != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, &t.Error)
					}
				}
			}()
			for i := range b.N {
				if err := p.PublishAsync("bench", body, done); err != nil {
					// Results will not come for the publishes never queued.
					for range b.N - i {
						done <- &ProducerTransaction{Error: err}
					}
					break
				}
			}
			<-drained
			b.StopTimer()
			p.Stop()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d publishes failed, first: %v", n, b.N, *firstErr.Load())
			}
			f.check(b, int64(b.N))
		})
	}
}

// BenchmarkMultiPublish100 measures MultiPublish of 100 messages from one
// goroutine; an op is one MultiPublish, and ns/msg is reported too.
func BenchmarkMultiPublish100(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			p, f := benchProducer(b)
			body := benchBody(s.size)
			bodies := make([][]byte, 100)
			for i := range bodies {
				bodies[i] = body
			}
			b.SetBytes(int64(100 * s.size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := p.MultiPublish("bench", bodies); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(100*b.N), "ns/msg")
			p.Stop()
			f.check(b, int64(100*b.N))
		})
	}
}
