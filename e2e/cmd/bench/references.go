package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"runtime"
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

// roundTripRun is the floor of a synchronous publish on this machine: one
// goroutine on a raw connection writes a prebuilt PUB and reads its OK, in
// turn, until the time is up. No library can make Publish from one
// goroutine faster than this.
func (b *bench) roundTripRun(body []byte) result {
	topic := b.newTopic()
	nc, br := b.rawConn("roundtrip")
	defer nc.Close()
	pub := fmt.Appendf(nil, "PUB %s\n", topic)
	pub = binary.BigEndian.AppendUint32(pub, uint32(len(body)))
	pub = append(pub, body...)
	var r result
	runtime.GC()
	u0 := b.snapshot()
	for deadline := u0.t.Add(b.o.duration); time.Now().Before(deadline); {
		if _, err := nc.Write(pub); err != nil {
			fatalf("roundtrip: writing: %v", err)
		}
		typ, data, err := readFrame(br)
		if err != nil || typ != 0 || string(data) != "OK" {
			fatalf("roundtrip: reply type %d %q, %v", typ, data, err)
		}
		r.msgs++
	}
	end := time.Now()
	u1 := b.snapshot()
	measure(&r, u0, u1, end)
	b.verify(topic, &r)
	return r
}

// ceilingRun is the practical ceiling of nsqd: one raw TCP connection that
// sends the magic and IDENTIFY, then pipelines a prebuilt MPUB of 100 copies
// of body, keeping up to -ceiling-inflight unanswered, while another
// goroutine reads the OK frames.
func (b *bench) ceilingRun(body []byte) result {
	topic := b.newTopic()
	nc, br := b.rawConn("ceiling")
	defer nc.Close()

	size := 4
	for range batchSize {
		size += 4 + len(body)
	}
	mpub := fmt.Appendf(nil, "MPUB %s\n", topic)
	mpub = binary.BigEndian.AppendUint32(mpub, uint32(size))
	mpub = binary.BigEndian.AppendUint32(mpub, batchSize)
	for range batchSize {
		mpub = binary.BigEndian.AppendUint32(mpub, uint32(len(body)))
		mpub = append(mpub, body...)
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
			acked.Add(batchSize)
			<-slots
		}
	}()
	deadline := time.Now().Add(b.o.duration)
	for time.Now().Before(deadline) {
		slots <- struct{}{}
		if _, err := nc.Write(mpub); err != nil {
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
	b.verify(topic, &r)
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
