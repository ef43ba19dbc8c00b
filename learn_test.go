package nsqpub

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestStatedLimit reads the limit out of nsqd's refusals; 0 means none is
// stated.
func TestStatedLimit(t *testing.T) {
	for msg, want := range map[string]int64{
		"PUB message too big 101 > 100":   100,
		"MPUB message too big 200 > 150":  150,
		"DPUB message too big 5 > 4":      4,
		"MPUB body too big 1044 > 1000":   1000,
		"PUB invalid message body size 0": 0,
		"MPUB body too big 1044 >":        0,
		"MPUB body too big 1044 > x":      0,
		"MPUB body too big 1044 > 0":      0,
	} {
		what := "message too big "
		if strings.Contains(msg, "body too big") {
			what = "body too big "
		}
		if got, ok := statedLimit(msg, what); got != want || ok != (want > 0) {
			t.Errorf("statedLimit(%q) = %d, %v; want %d", msg, got, ok, want)
		}
	}
}

// TestModelLearns walks one model through what nsqd says: every command is
// a suspect until something like it is accepted; a refusal states a limit,
// which local checks then apply, and makes the topic a suspect again;
// forget drops the limits, not what was accepted.
func TestModelLearns(t *testing.T) {
	var m model
	small := shape{topic: "t", maxBody: 10}
	big := shape{topic: "t", maxBody: 200}
	later := shape{topic: "t", maxBody: 10, dpub: true, delay: time.Minute}
	steps := []struct {
		name                 string
		do                   func()
		small, big, later, u bool // suspects
		msgLimit, bodyLimit  int
	}{
		{"new", func() {}, true, true, true, true, 1000, 5000},
		{"small accepted", func() { m.accepted(small) }, false, true, true, true, 1000, 5000},
		{"big accepted", func() { m.accepted(big) }, false, false, true, true, 1000, 5000},
		{"delay accepted", func() { m.accepted(later) }, false, false, false, true, 1000, 5000},
		{"message refused", func() {
			m.refused(big, &ServerError{Code: "E_BAD_MESSAGE", Message: "PUB message too big 200 > 100"})
		}, true, true, true, true, 100, 5000},
		{"topic accepted again", func() { m.accepted(small) }, false, true, false, true, 100, 5000},
		{"body refused", func() {
			m.refused(small, &ServerError{Code: "E_BAD_BODY", Message: "MPUB body too big 3000 > 2000"})
		}, true, true, true, true, 100, 2000},
		{"forget", m.forget, true, true, true, true, 1000, 5000},
		{"accepted again", func() { m.accepted(later); m.accepted(big) }, false, false, false, true, 1000, 5000},
		{"limit learned again", func() {
			m.refused(big, &ServerError{Code: "E_BAD_MESSAGE", Message: "PUB message too big 200 > 100"})
			m.accepted(small)
		}, false, true, false, true, 100, 5000},
		{"forget keeps what was accepted", m.forget, false, true, false, true, 1000, 5000},
	}
	for _, st := range steps {
		st.do()
		got := []bool{m.suspect(small), m.suspect(big), m.suspect(later), m.suspect(shape{topic: "u", maxBody: 1})}
		want := []bool{st.small, st.big, st.later, st.u}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: suspects (small, big, later, other topic) = %v, want %v", st.name, got, want)
			}
		}
		if l := m.msgLimit(1000); l != st.msgLimit {
			t.Fatalf("%s: message limit %d, want %d", st.name, l, st.msgLimit)
		}
		if l := m.bodyLimit(5000); l != st.bodyLimit {
			t.Fatalf("%s: body limit %d, want %d", st.name, l, st.bodyLimit)
		}
	}
}

// TestModelCheck: a publish over a limit nsqd stated is refused locally with
// the limit; below it, or with nothing learned, it passes.
func TestModelCheck(t *testing.T) {
	var m model
	pub := command{kind: cmdPUB, topic: "t", body: make([]byte, 150)}
	mpub := command{kind: cmdMPUB, topic: "t", bodies: [][]byte{make([]byte, 50), make([]byte, 150)}}
	if err := m.check(&pub); err != nil {
		t.Fatalf("nothing learned: %v", err)
	}
	m.maxMsgSize.Store(100)
	for _, cmd := range []*command{&pub, &mpub} {
		if err := m.check(cmd); !errors.Is(err, ErrMessageTooLarge) || OutcomeOf(err) != Rejected {
			t.Fatalf("%v over a learned max-msg-size of 100: %v", cmd.kind, err)
		}
	}
	m.maxMsgSize.Store(1000)
	m.maxBodySize.Store(100)
	if err := m.check(&mpub); !errors.Is(err, ErrBatchTooLarge) {
		t.Fatalf("MPUB over a learned max-body-size of 100: %v", err)
	}
	if err := m.check(&pub); err != nil {
		t.Fatalf("a PUB is never checked against max-body-size: %v", err)
	}
}
