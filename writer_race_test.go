package nsqpub

import (
	"bytes"
	"testing"
)

// TestMergedMPUBWithBigBodies publishes PUBs whose bodies are bigger than
// the connection's write buffer, so that they go straight to the socket and
// the merged MPUB is complete, and can be answered and finished by the
// reader, the moment its last body is written. The writer must not look at
// the transactions after that (under -race this used to report the writer
// reading a member's next link while the reader cleared it).
func TestMergedMPUBWithBigBodies(t *testing.T) {
	f := newFastNSQD(t)
	p := newTestProducer(t, f.addr(), nil)
	big := bytes.Repeat([]byte("x"), 200<<10) // its tail, past a full 64 KiB write buffer, goes straight out
	const n = 200
	done := make(chan *ProducerTransaction, n)
	for range n {
		if err := p.PublishAsync("t", big, done); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if tr := <-done; tr.Error != nil {
			t.Fatal(tr.Error)
		}
	}
	p.Stop()
	f.check(t, n)
}
