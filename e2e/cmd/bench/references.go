package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// rawConn connects to nsqd without a library: the magic, then IDENTIFY
// without feature negotiation, whose reply is a plain OK.
func (b *bench) rawConn(what string) (net.Conn, *bufio.Reader) {
	nc, err := net.Dial("tcp", b.n.tcp)
	if err != nil {
		fatalf("%s: %v", what, err)
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	id, _ := json.Marshal(map[string]any{"client_id": what, "hostname": what,
		"user_agent": "nsqpub-bench-" + what, "feature_negotiation": false})
	hello := append([]byte("  V2IDENTIFY\n"), binary.BigEndian.AppendUint32(nil, uint32(len(id)))...)
	if _, err := nc.Write(append(hello, id...)); err != nil {
		fatalf("%s: %v", what, err)
	}
	if typ, data, err := readFrame(br); err != nil || typ != 0 || string(data) != "OK" {
		fatalf("%s: IDENTIFY reply type %d %q, %v", what, typ, data, err)
	}
	return nc, br
}

// roundTripRun is the floor of a synchronous publish on this machine:
// each of k.g goroutines (at least 1) has its own raw connection, writes a
// prebuilt PUB and reads its OK, in turn, until the time is up; publish i of
// goroutine j goes to topic (j + i) % k.topics. With one goroutine no
// library can make Publish from one goroutine faster than this; with g, it
// is what g synchronous callers get without any batching.
func (b *bench) roundTripRun(k key) result {
	w := b.newWorkload(k)
	body := w.bodies[0]
	pubs := make([][]byte, len(w.topics))
	for t, topic := range w.topics {
		pubs[t] = fmt.Appendf(nil, "PUB %s\n", topic)
		pubs[t] = binary.BigEndian.AppendUint32(pubs[t], uint32(len(body)))
		pubs[t] = append(pubs[t], body...)
	}
	g := max(k.g, 1)
	conns := make([]net.Conn, g)
	readers := make([]*bufio.Reader, g)
	for j := range conns {
		conns[j], readers[j] = b.rawConn(refRoundTrip)
	}
	var stop atomic.Bool
	var acked atomic.Int64
	var wg sync.WaitGroup
	runtime.GC()
	u0 := b.snapshot()
	timer := time.AfterFunc(b.duration(k), func() { stop.Store(true) })
	for j := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, br := conns[j], readers[j]
			var n int64
			for i := j; !stop.Load(); i++ {
				if _, err := nc.Write(pubs[i%len(pubs)]); err != nil {
					fatalf("roundtrip: writing: %v", err)
				}
				typ, data, err := readFrame(br)
				if err != nil || typ != 0 || string(data) != "OK" {
					fatalf("roundtrip: reply type %d %q, %v", typ, data, err)
				}
				n++
			}
			acked.Add(n)
		}()
	}
	wg.Wait()
	end := time.Now()
	u1 := b.snapshot()
	timer.Stop()
	for _, nc := range conns {
		nc.Close()
	}
	r := result{msgs: acked.Load()}
	measure(&r, u0, u1, end)
	b.verify(w.topics, &r)
	return r
}

// nsqdMaxBody is nsqd's default --max-body-size, the largest MPUB it takes.
const nsqdMaxBody = 5 << 20

// batchFor returns how many messages of size bytes go in one MPUB:
// batchSize, or fewer where batchSize of them would pass nsqdMaxBody.
func batchFor(size int) int {
	return max(1, min(batchSize, (nsqdMaxBody-4)/(size+4)))
}

// ceilingRun is the practical ceiling of nsqd: one raw TCP connection that
// sends the magic and IDENTIFY, then pipelines prebuilt MPUBs of
// batchFor(size) messages (MPUB n to topic n % k.topics), keeping up to
// -ceiling-inflight unanswered, while another goroutine reads the OK frames.
func (b *bench) ceilingRun(k key) result {
	w := b.newWorkload(k)
	nc, br := b.rawConn(refCeiling)
	defer nc.Close()

	body, batch := w.bodies[0], batchFor(k.size)
	size := 4 + batch*(4+len(body))
	mpubs := make([][]byte, len(w.topics))
	for t, topic := range w.topics {
		m := fmt.Appendf(nil, "MPUB %s\n", topic)
		m = binary.BigEndian.AppendUint32(m, uint32(size))
		m = binary.BigEndian.AppendUint32(m, uint32(batch))
		for range batch {
			m = binary.BigEndian.AppendUint32(m, uint32(len(body)))
			m = append(m, body...)
		}
		mpubs[t] = m
	}

	// A slot is taken before each MPUB is written and given back by the
	// reader when its OK arrives; once the writer holds every slot again,
	// everything it wrote has been answered.
	slots := make(chan struct{}, b.o.ceilingInflight)
	var acked atomic.Int64
	var closing atomic.Bool
	readerDone := make(chan struct{})
	runtime.GC()
	u0 := b.snapshot()
	go func() {
		defer close(readerDone)
		for {
			typ, data, err := readFrame(br)
			switch {
			case err != nil && closing.Load():
				return
			case err != nil:
				fatalf("ceiling: reading: %v", err)
			case typ == 0 && string(data) == "_heartbeat_":
				continue
			case typ != 0 || string(data) != "OK":
				fatalf("ceiling: reply type %d %q", typ, data)
			}
			acked.Add(int64(batch))
			<-slots
		}
	}()
	deadline := time.Now().Add(b.duration(k))
	for n := 0; time.Now().Before(deadline); n++ {
		slots <- struct{}{}
		if _, err := nc.Write(mpubs[n%len(mpubs)]); err != nil {
			fatalf("ceiling: writing: %v", err)
		}
	}
	for range b.o.ceilingInflight {
		slots <- struct{}{}
	}
	end := time.Now()
	u1 := b.snapshot()
	closing.Store(true)
	nc.Close()
	<-readerDone
	r := result{msgs: acked.Load()}
	measure(&r, u0, u1, end)
	b.verify(w.topics, &r)
	return r
}

// readFrame reads one frame: size, type, data.
func readFrame(r *bufio.Reader) (int32, []byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 4 || n > 1<<20 {
		return 0, nil, fmt.Errorf("frame size %d", n)
	}
	data := make([]byte, n-4)
	if _, err := io.ReadFull(r, data); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(hdr[4:])), data, nil
}
