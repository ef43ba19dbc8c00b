package nsqpub

import (
	"encoding/binary"
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

// TestIdentifyCommand: the IDENTIFY body has go-nsq's keys, sorted as
// go-nsq's map is encoded, and its values: durations in whole
// milliseconds, exactly -1 kept as -1, and nothing clamped.
func TestIdentifyCommand(t *testing.T) {
	base := Config{ClientID: "c", Hostname: "h.example", UserAgent: "ua/1", HeartbeatInterval: 30 * time.Second,
		DeflateLevel: 6, OutputBufferSize: 16384, OutputBufferTimeout: 250 * time.Millisecond}
	with := func(edit func(c *Config)) Config {
		c := base
		edit(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"NewConfig's values", base,
			`{"client_id":"c","deflate":false,"deflate_level":6,"feature_negotiation":true,"heartbeat_interval":30000,"hostname":"h.example","long_id":"h.example","msg_timeout":0,"output_buffer_size":16384,"output_buffer_timeout":250,"sample_rate":0,"short_id":"c","snappy":false,"tls_v1":false,"user_agent":"ua/1"}`},
		{"everything asked", with(func(c *Config) {
			c.TlsV1, c.Deflate, c.DeflateLevel, c.Snappy, c.SampleRate, c.MsgTimeout = true, true, 9, true, 42, 1500*time.Millisecond
		}),
			`{"client_id":"c","deflate":true,"deflate_level":9,"feature_negotiation":true,"heartbeat_interval":30000,"hostname":"h.example","long_id":"h.example","msg_timeout":1500,"output_buffer_size":16384,"output_buffer_timeout":250,"sample_rate":42,"short_id":"c","snappy":true,"tls_v1":true,"user_agent":"ua/1"}`},
		{"disabled: exactly -1", with(func(c *Config) { c.HeartbeatInterval, c.OutputBufferSize, c.OutputBufferTimeout = -1, -1, -1 }),
			`{"client_id":"c","deflate":false,"deflate_level":6,"feature_negotiation":true,"heartbeat_interval":-1,"hostname":"h.example","long_id":"h.example","msg_timeout":0,"output_buffer_size":-1,"output_buffer_timeout":-1,"sample_rate":0,"short_id":"c","snappy":false,"tls_v1":false,"user_agent":"ua/1"}`},
		{"-1ms is -1 too", with(func(c *Config) { c.HeartbeatInterval, c.OutputBufferTimeout = -time.Millisecond, -time.Millisecond }),
			`{"client_id":"c","deflate":false,"deflate_level":6,"feature_negotiation":true,"heartbeat_interval":-1,"hostname":"h.example","long_id":"h.example","msg_timeout":0,"output_buffer_size":16384,"output_buffer_timeout":-1,"sample_rate":0,"short_id":"c","snappy":false,"tls_v1":false,"user_agent":"ua/1"}`},
		{"for nsqd to judge", with(func(c *Config) {
			c.HeartbeatInterval, c.OutputBufferSize, c.OutputBufferTimeout, c.MsgTimeout = 100*time.Millisecond, 10<<30, 10*time.Hour, -time.Second
		}),
			`{"client_id":"c","deflate":false,"deflate_level":6,"feature_negotiation":true,"heartbeat_interval":100,"hostname":"h.example","long_id":"h.example","msg_timeout":-1000,"output_buffer_size":10737418240,"output_buffer_timeout":36000000,"sample_rate":0,"short_id":"c","snappy":false,"tls_v1":false,"user_agent":"ua/1"}`},
		{"truncated to milliseconds", with(func(c *Config) {
			c.HeartbeatInterval, c.OutputBufferTimeout, c.MsgTimeout = 90*time.Second+999*time.Microsecond, 999*time.Microsecond, -1500*time.Microsecond
		}),
			`{"client_id":"c","deflate":false,"deflate_level":6,"feature_negotiation":true,"heartbeat_interval":90000,"hostname":"h.example","long_id":"h.example","msg_timeout":-1,"output_buffer_size":16384,"output_buffer_timeout":0,"sample_rate":0,"short_id":"c","snappy":false,"tls_v1":false,"user_agent":"ua/1"}`},
		{"zeros sent as zeros", with(func(c *Config) { c.OutputBufferSize, c.OutputBufferTimeout = 0, 0 }),
			`{"client_id":"c","deflate":false,"deflate_level":6,"feature_negotiation":true,"heartbeat_interval":30000,"hostname":"h.example","long_id":"h.example","msg_timeout":0,"output_buffer_size":0,"output_buffer_timeout":0,"sample_rate":0,"short_id":"c","snappy":false,"tls_v1":false,"user_agent":"ua/1"}`},
		{"HTML escaped as encoding/json does", with(func(c *Config) { c.ClientID, c.UserAgent = "<a&b>", `q"\` }),
			`{"client_id":"\u003ca\u0026b\u003e","deflate":false,"deflate_level":6,"feature_negotiation":true,"heartbeat_interval":30000,"hostname":"h.example","long_id":"h.example","msg_timeout":0,"output_buffer_size":16384,"output_buffer_timeout":250,"sample_rate":0,"short_id":"\u003ca\u0026b\u003e","snappy":false,"tls_v1":false,"user_agent":"q\"\\"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := identifyCommand(&tt.cfg)
			if got := string(cmd.body); got != tt.want {
				t.Errorf("body\n%s\nwant\n%s", got, tt.want)
			}
			if got, want := string(cmd.appendTo(nil)), "IDENTIFY\n"+string(binary.BigEndian.AppendUint32(nil, uint32(len(tt.want))))+tt.want; got != want {
				t.Errorf("frame %q, want %q", got, want)
			}
		})
	}
}
