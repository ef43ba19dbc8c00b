package nsqpub

import (
	"strings"
	"testing"
)

// TestStringAndLogger: String is the address; SetLogger at LogLevelInfo
// logs the connection in go-nsq's format and no debug line.
func TestStringAndLogger(t *testing.T) {
	f, p := fakeProducer(t, nil)
	if p.String() != f.addr() {
		t.Fatalf("String = %q", p.String())
	}
	lg := &recLogger{}
	p.SetLogger(lg, LogLevelInfo)
	connect(t, f, p)
	p.Stop()
	out := lg.String()
	if !strings.Contains(out, "INF nsqpub ("+f.addr()+") connected") || strings.Contains(out, "DBG") {
		t.Fatalf("log:\n%s", out)
	}
}
