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

// TestSetLoggerForLevel: each level's lines go to the logger set for that
// level, if the level is at or above the minimum (go-nsq's default
// LogLevelInfo until SetLogger or SetLoggerLevel changes it); SetLogger
// sets every level's logger at once.
func TestSetLoggerForLevel(t *testing.T) {
	a, b := &recLogger{}, &recLogger{}
	tests := []struct {
		name  string
		setup func(p *Producer)
		a, b  string // the levels each logger got, in order
	}{
		{"none", func(p *Producer) {}, "", ""},
		{"one level", func(p *Producer) { p.SetLoggerForLevel(a, LogLevelWarning) }, "WRN", ""},
		{"debug below the default minimum", func(p *Producer) { p.SetLoggerForLevel(a, LogLevelDebug) }, "", ""},
		{"debug with the minimum lowered", func(p *Producer) {
			p.SetLoggerForLevel(a, LogLevelDebug)
			p.SetLoggerLevel(LogLevelDebug)
		}, "DBG", ""},
		{"two loggers", func(p *Producer) {
			p.SetLoggerForLevel(a, LogLevelInfo)
			p.SetLoggerForLevel(b, LogLevelError)
		}, "INF", "ERR"},
		{"SetLogger then one level", func(p *Producer) {
			p.SetLogger(a, LogLevelDebug)
			p.SetLoggerForLevel(b, LogLevelWarning)
		}, "DBG INF ERR", "WRN"},
		{"one level then SetLogger", func(p *Producer) {
			p.SetLoggerForLevel(b, LogLevelWarning)
			p.SetLogger(a, LogLevelWarning)
		}, "WRN ERR", ""},
		{"nil silences a level", func(p *Producer) {
			p.SetLogger(a, LogLevelInfo)
			p.SetLoggerForLevel(nil, LogLevelInfo)
		}, "WRN ERR", ""},
		{"out of range ignored", func(p *Producer) {
			p.SetLoggerForLevel(a, LogLevelMax+1)
			p.SetLoggerForLevel(a, -1)
		}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.lines, b.lines = nil, nil
			p := newTestProducer(t, deadAddr(t), nil)
			tt.setup(p)
			for lvl := LogLevelDebug; lvl <= LogLevelMax; lvl++ {
				p.log.log(lvl, "line")
			}
			for _, c := range []struct {
				l    *recLogger
				want string
			}{{a, tt.a}, {b, tt.b}} {
				var got []string
				for _, line := range c.l.lines {
					got = append(got, line[:3])
				}
				if strings.Join(got, " ") != c.want {
					t.Errorf("levels logged %q, want %q", got, c.want)
				}
			}
		})
	}
}
