package nsqpub

import (
	"testing"
	"time"
)

func TestCommandBytes(t *testing.T) {
	tests := []struct {
		name string
		cmd  command
		want string
	}{
		{"PUB", command{kind: cmdPUB, topic: "t", body: []byte("hello")}, "PUB t\n\x00\x00\x00\x05hello"},
		{"DPUB", command{kind: cmdDPUB, topic: "t", delay: 1500 * time.Millisecond, body: []byte("x")}, "DPUB t 1500\n\x00\x00\x00\x01x"},
		{"DPUB zero", command{kind: cmdDPUB, topic: "t", body: []byte("x")}, "DPUB t 0\n\x00\x00\x00\x01x"},
		{"MPUB", command{kind: cmdMPUB, topic: "t", bodies: [][]byte{[]byte("a"), []byte("bc")}},
			"MPUB t\n\x00\x00\x00\x0f\x00\x00\x00\x02\x00\x00\x00\x01a\x00\x00\x00\x02bc"},
		{"NOP", command{kind: cmdNOP}, "NOP\n"},
		{"AUTH", command{kind: cmdAUTH, body: []byte("s3")}, "AUTH\n\x00\x00\x00\x02s3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.cmd.appendTo(nil)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	// nsqd's own test: 11 messages of 100 bytes make an MPUB body of 1148.
	bodies := make([][]byte, 11)
	for i := range bodies {
		bodies[i] = make([]byte, 100)
	}
	if n := mpubBodySize(bodies); n != 1148 {
		t.Errorf("mpubBodySize = %d, want 1148", n)
	}
}
