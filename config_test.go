package nsqpub

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestConfigSet: every go-nsq option name, and nsqpub's own, with a value
// of each type go-nsq's Set accepts for the field, gives the field the value
// go-nsq's Set gives it (integers are milliseconds for durations; values
// convert to narrower fields as Go conversions do).
func TestConfigSet(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4150}
	tlsConf := &tls.Config{ServerName: "x"}
	tests := []struct {
		option string
		value  any
		want   any
	}{
		{"dial_timeout", "2s", 2 * time.Second},
		{"dial-timeout", 1500, 1500 * time.Millisecond},
		{"dial_timeout", int16(7), 7 * time.Millisecond},
		{"dial_timeout", int32(8), 8 * time.Millisecond},
		{"dial_timeout", int64(9), 9 * time.Millisecond},
		{"dial_timeout", uint(10), 10 * time.Millisecond},
		{"dial_timeout", uint16(11), 11 * time.Millisecond},
		{"dial_timeout", uint32(12), 12 * time.Millisecond},
		{"dial_timeout", uint64(13), 13 * time.Millisecond},
		{"dial_timeout", -time.Second, -time.Second},
		{"read_timeout", 3 * time.Second, 3 * time.Second},
		{"read_timeout", "100ms", 100 * time.Millisecond},
		{"read_timeout", "5m", 5 * time.Minute},
		{"write_timeout", int64(250), 250 * time.Millisecond},
		{"local_addr", "127.0.0.1:4150", net.Addr(addr)},
		{"local_addr", addr, net.Addr(addr)},
		{"lookupd_poll_interval", "10ms", 10 * time.Millisecond},
		{"lookupd_poll_jitter", "0.5", 0.5},
		{"lookupd_poll_jitter", 1, 1.0},
		{"lookupd_poll_jitter", uint(0), 0.0},
		{"lookupd_poll_jitter", float32(0.25), 0.25},
		{"lookupd_poll_jitter", math.NaN(), math.NaN()},
		{"lookupd_poll_timeout", "3s", 3 * time.Second},
		{"max_requeue_delay", 0, time.Duration(0)},
		{"max_requeue_delay", "60m", time.Hour},
		{"default_requeue_delay", "1m", time.Minute},
		{"backoff_strategy", "full_jitter", &FullJitterStrategy{}},
		{"backoff_strategy", "exponential", &ExponentialStrategy{}},
		{"backoff_strategy", "", &ExponentialStrategy{}},
		{"backoff_strategy", &FullJitterStrategy{}, &FullJitterStrategy{}},
		{"max_backoff_duration", "0s", time.Duration(0)},
		{"backoff_multiplier", "2s", 2 * time.Second},
		{"max_attempts", "7", uint16(7)},
		{"max_attempts", 8, uint16(8)},
		{"max_attempts", -1, uint16(65535)},
		{"max_attempts", uint64(65536), uint16(0)},
		{"low_rdy_idle_timeout", "1s", time.Second},
		{"low_rdy_timeout", "5m", 5 * time.Minute},
		{"rdy_redistribute_interval", 1, time.Millisecond},
		{"client_id", "id", "id"},
		{"client_id", 7, "7"},
		{"client_id", uint16(8), "8"},
		{"client_id", 1.5, "1.500000"},
		{"client_id", true, "%!s(bool=true)"},
		{"client_id", int8(3), "%!s(int8=3)"},
		{"hostname", "h", "h"},
		{"user_agent", "ua", "ua"},
		{"heartbeat_interval", "5s", 5 * time.Second},
		{"heartbeat_interval", "100ms", 100 * time.Millisecond},
		{"heartbeat_interval", "90s", 90 * time.Second},
		{"heartbeat_interval", -1, -time.Millisecond},
		{"heartbeat_interval", time.Duration(-1), time.Duration(-1)},
		{"sample_rate", "99", int32(99)},
		{"sample_rate", 0, int32(0)},
		{"sample_rate", 1<<32 + 5, int32(5)},
		{"tls_v1", true, true},
		{"tls_v1", "true", true},
		{"tls-v1", "1", true},
		{"TLS_V1", 1, true},
		{"tls_v1", uint(0), false},
		{"tls_config", tlsConf, tlsConf},
		{"tls_config", (*tls.Config)(nil), (*tls.Config)(nil)},
		{"deflate", "t", true},
		{"deflate_level", "3", 3},
		{"deflate_level", uint32(9), 9},
		{"snappy", 1, true},
		{"output_buffer_size", "-1", int64(-1)},
		{"output_buffer_size", 1 << 20, int64(1 << 20)},
		{"output_buffer_timeout", -1, -time.Millisecond},
		{"output_buffer_timeout", "10h", 10 * time.Hour},
		{"max_in_flight", 2500, 2500},
		{"max_in_flight", "0", 0},
		{"msg_timeout", "20m", 20 * time.Minute},
		{"auth_secret", "s", "s"},
		{"skip_lookupd_authorization", false, false},
		{"skip_lookupd_authorization", "true", true},

		{"max_msg_size", 100, 100},
		{"max_body_size", "1000", 1000},
		{"max_defer_delay", "2h", 2 * time.Hour},
		{"max_req_timeout", "10m", 10 * time.Minute},
		{"stop_timeout", 100, 100 * time.Millisecond},
		{"max_queued", int64(5), 5},
		{"max_in_flight_commands", "16", 16},
		{"max_in_flight_bytes", 1 << 10, 1 << 10},
		{"pool_strategy", "failover", Failover},
		{"pool-strategy", "round-robin", RoundRobin},
		{"pool_strategy", Failover, Failover},
		{"stall_timeout", "1s", time.Second},
		{"at_least_once", "true", true},
	}
	for _, tt := range tests {
		c := NewConfig()
		if err := c.Set(tt.option, tt.value); err != nil {
			t.Errorf("Set(%q, %#v): %v", tt.option, tt.value, err)
			continue
		}
		name := strings.ReplaceAll(strings.ToLower(tt.option), "-", "_")
		got := reflect.ValueOf(options[name].field(c)).Elem().Interface()
		switch want := tt.want.(type) {
		case BackoffStrategy:
			if reflect.TypeOf(got) != reflect.TypeOf(want) {
				t.Errorf("Set(%q, %#v): %T, want %T", tt.option, tt.value, got, want)
			}
		case float64:
			if g := got.(float64); g != want && !(math.IsNaN(g) && math.IsNaN(want)) {
				t.Errorf("Set(%q, %#v): %v, want %v", tt.option, tt.value, got, want)
			}
		default:
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Set(%q, %#v): %#v, want %#v", tt.option, tt.value, got, want)
			}
		}
	}

	// go-nsq's MaxInFlight is the consumers' window: it leaves the
	// Producer's command window alone.
	c := NewConfig()
	if err := c.Set("max_in_flight", 2500); err != nil || c.MaxInFlight != 2500 || c.MaxInFlightCommands != DefaultMaxInFlightCommands {
		t.Errorf("max_in_flight: %v, MaxInFlight %d, MaxInFlightCommands %d", err, c.MaxInFlight, c.MaxInFlightCommands)
	}
}

// TestConfigSetRefused: what go-nsq's Set refuses (unknown names, values of
// a type it does not convert, values outside go-nsq's ranges) is refused
// with ErrInvalidConfig, and leaves the Config as it was.
func TestConfigSetRefused(t *testing.T) {
	tests := []struct {
		option string
		value  any
	}{
		{"no_such_option", 1},
		{"rdy_redistribute_on_idle", true}, // not a go-nsq v1.1.0 option
		{"auth_secret_file", "f"},          // nor this one
		{"dial_timeout", "soon"},
		{"dial_timeout", 1.5},
		{"dial_timeout", int8(1)},
		{"dial_timeout", uint8(1)},
		{"dial_timeout", true},
		{"dial_timeout", nil},
		{"read_timeout", "99ms"},
		{"read_timeout", 0},
		{"read_timeout", "5m1ms"},
		{"write_timeout", 99},
		{"write_timeout", "6m"},
		{"local_addr", 7},
		{"local_addr", "127.0.0.1:port"},
		{"lookupd_poll_interval", "9ms"},
		{"lookupd_poll_interval", "6m"},
		{"lookupd_poll_jitter", 1.5},
		{"lookupd_poll_jitter", -0.1},
		{"lookupd_poll_jitter", "half"},
		{"lookupd_poll_jitter", time.Second},
		{"max_requeue_delay", -1},
		{"max_requeue_delay", "61m"},
		{"default_requeue_delay", "61m"},
		{"backoff_strategy", "linear"},
		{"backoff_strategy", 5},
		{"backoff_strategy", nil},
		{"max_backoff_duration", "-1s"},
		{"backoff_multiplier", "61m"},
		{"max_attempts", "-1"},
		{"max_attempts", 1.0},
		{"low_rdy_idle_timeout", "999ms"},
		{"low_rdy_timeout", "6m"},
		{"rdy_redistribute_interval", "6s"},
		{"rdy_redistribute_interval", 0},
		{"heartbeat_interval", "fast"},
		{"sample_rate", 100},
		{"sample_rate", -1},
		{"sample_rate", "1.5"},
		{"tls_v1", "maybe"},
		{"tls_v1", 1.0},
		{"tls_config", tls.Config{}},
		{"tls_config", "x"},
		{"deflate_level", "six"},
		{"deflate_level", 0},
		{"deflate_level", 10},
		{"deflate_level", -1},
		{"deflate_level", int8(3)},
		{"output_buffer_size", "16k"},
		{"output_buffer_timeout", 0.5},
		{"max_in_flight", -1},
		{"msg_timeout", -1},
		{"skip_lookupd_authorization", "no way"},
		{"max_queued", "x"},
		{"pool_strategy", "random"},
		{"at_least_once", "perhaps"},
	}
	for _, tt := range tests {
		c := NewConfig()
		c.ClientID = "before"
		whole := *c
		if err := c.Set(tt.option, tt.value); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Set(%q, %#v) = %v, want ErrInvalidConfig", tt.option, tt.value, err)
			continue
		}
		if !reflect.DeepEqual(*c, whole) {
			t.Errorf("failed Set(%q, %#v) changed the config: %+v", tt.option, tt.value, c)
		}
	}
}

// TestConfigSetTLS: tls_v1 turns TLS on, the TLS
// pseudo-options build TlsConfig (and do not turn it on); a bad option or
// value is refused with ErrInvalidConfig without changing the TLS settings;
// and Set never modifies a *tls.Config that the Config shared with someone
// else (a Producer, or the caller).
func TestConfigSetTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	_, certPEM, keyPEM := ca.issue(t, []string{"client"}, nil)
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caFile, certFile, keyFile := write("ca.pem", ca.pem), write("cert.pem", certPEM), write("key.pem", keyPEM)
	junk := write("junk.pem", []byte("not PEM"))
	_, _, otherKeyPEM := ca.issue(t, nil, nil)
	otherKey := write("other-key.pem", otherKeyPEM)

	type opt struct {
		name string
		val  any
	}
	tests := []struct {
		opts  []opt
		check func(*Config) bool
	}{
		{[]opt{{"tls_v1", true}}, func(c *Config) bool { return c.TlsV1 && c.TlsConfig == nil }},
		{[]opt{{"tls_v1", "true"}}, func(c *Config) bool { return c.TlsV1 }},
		{[]opt{{"tls-v1", "1"}}, func(c *Config) bool { return c.TlsV1 }},
		{[]opt{{"TLS_V1", 1}, {"tls_v1", 0}}, func(c *Config) bool { return !c.TlsV1 }},
		{[]opt{{"tls_root_ca_file", caFile}}, func(c *Config) bool {
			_, err := ca.cert.Verify(x509.VerifyOptions{Roots: c.TlsConfig.RootCAs})
			return err == nil && !c.TlsV1
		}},
		{[]opt{{"tls_cert", certFile}, {"tls_key", keyFile}}, func(c *Config) bool { return len(c.TlsConfig.Certificates) == 1 }},
		{[]opt{{"tls_key", keyFile}, {"tls_cert", certFile}}, func(c *Config) bool { return len(c.TlsConfig.Certificates) == 1 }},
		{[]opt{{"tls_cert", certFile}}, func(c *Config) bool { return len(c.TlsConfig.Certificates) == 0 }}, // waits for tls_key
		{[]opt{{"tls_insecure_skip_verify", true}}, func(c *Config) bool { return c.TlsConfig.InsecureSkipVerify }},
		{[]opt{{"tls_insecure_skip_verify", "true"}}, func(c *Config) bool { return c.TlsConfig.InsecureSkipVerify && !c.TlsV1 }},
		{[]opt{{"tls_min_version", "tls1.0"}}, func(c *Config) bool { return c.TlsConfig.MinVersion == tls.VersionTLS10 }},
		{[]opt{{"tls_min_version", "tls1.1"}}, func(c *Config) bool { return c.TlsConfig.MinVersion == tls.VersionTLS11 }},
		{[]opt{{"tls_min_version", "tls1.2"}}, func(c *Config) bool { return c.TlsConfig.MinVersion == tls.VersionTLS12 }},
		{[]opt{{"tls_min_version", "ssl3.0"}}, func(c *Config) bool { return c.TlsConfig.MinVersion == tls.VersionSSL30 }},
		{[]opt{{"tls_min_version", "tls1.3"}}, func(c *Config) bool {
			return c.TlsConfig.MinVersion == tls.VersionTLS13 && c.TlsConfig.MaxVersion == 0
		}},
		{[]opt{{"tls_root_ca_file", caFile}, {"tls_min_version", "tls1.2"}, {"tls_insecure_skip_verify", false}}, func(c *Config) bool {
			return c.TlsConfig.RootCAs != nil && c.TlsConfig.MinVersion == tls.VersionTLS12
		}},
	}
	for _, tt := range tests {
		c := NewConfig()
		for _, o := range tt.opts {
			if err := c.Set(o.name, o.val); err != nil {
				t.Fatalf("%v: Set(%q, %v): %v", tt.opts, o.name, o.val, err)
			}
		}
		if !tt.check(c) || c.Validate() != nil {
			t.Errorf("%v: did not take effect: %+v", tt.opts, c)
		}
	}

	bad := []opt{
		{"tls_root_ca_file", junk},
		{"tls_root_ca_file", filepath.Join(dir, "missing.pem")},
		{"tls_root_ca_file", 7},
		{"tls_insecure_skip_verify", "maybe"},
		{"tls_min_version", "TLS1.2"},
		{"tls_min_version", "tls1.4"},
		{"tls_min_version", tls.VersionTLS12},
		{"tls_cert", junk}, // tls_key is set: the pair is loaded, and fails
		{"tls_cert", 5},
		{"tls_key", []byte("k")},
	}
	for _, tt := range bad {
		// A configuration that a failed Set must leave alone.
		c := NewConfig()
		for _, o := range []opt{{"tls_root_ca_file", caFile}, {"tls_insecure_skip_verify", true}, {"tls_min_version", "tls1.2"}, {"tls_key", keyFile}} {
			if err := c.Set(o.name, o.val); err != nil {
				t.Fatal(err)
			}
		}
		before, tlsBefore, whole := c.TlsConfig, *c.TlsConfig.Clone(), *c
		if err := c.Set(tt.name, tt.val); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Set(%q, %#v) = %v, want ErrInvalidConfig", tt.name, tt.val, err)
			continue
		}
		if c.TlsConfig != before || c.TlsV1 || c.TlsConfig.InsecureSkipVerify != tlsBefore.InsecureSkipVerify ||
			c.TlsConfig.MinVersion != tlsBefore.MinVersion || c.TlsConfig.RootCAs != tlsBefore.RootCAs ||
			!reflect.DeepEqual(*c, whole) {
			t.Errorf("failed Set(%q, %#v) changed the config: %+v", tt.name, tt.val, c)
		}
	}

	t.Run("mismatched key", func(t *testing.T) {
		c := NewConfig()
		if err := c.Set("tls_cert", certFile); err != nil {
			t.Fatal(err)
		}
		if err := c.Set("tls_key", otherKey); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("Set(tls_key) with another certificate's key = %v, want ErrInvalidConfig", err)
		}
		if err := c.Set("tls_key", keyFile); err != nil || len(c.TlsConfig.Certificates) != 1 {
			t.Fatalf("Set(tls_key) with the right key = %v, certificates %d", err, len(c.TlsConfig.Certificates))
		}
	})

	t.Run("shared tls.Config is not modified", func(t *testing.T) {
		shared := &tls.Config{ServerName: "mine"}
		c := NewConfig()
		c.TlsConfig = shared
		p := newTestProducer(t, "127.0.0.1:4150", c)
		for _, o := range []opt{{"tls_insecure_skip_verify", true}, {"tls_min_version", "tls1.3"}, {"tls_root_ca_file", caFile}} {
			if err := c.Set(o.name, o.val); err != nil {
				t.Fatal(err)
			}
		}
		if shared.InsecureSkipVerify || shared.MinVersion != 0 || shared.RootCAs != nil {
			t.Fatalf("Set modified the *tls.Config the Producer and the caller hold: %+v", shared)
		}
		if c.TlsConfig == shared || !c.TlsConfig.InsecureSkipVerify || c.TlsConfig.ServerName != "mine" ||
			c.TlsConfig.MinVersion != tls.VersionTLS13 || c.TlsConfig.RootCAs == nil {
			t.Fatalf("Set on a copy lost settings: %+v", c.TlsConfig)
		}
		if p.cfg.TlsConfig.InsecureSkipVerify {
			t.Fatal("Set after NewProducer changed the Producer's TLS settings")
		}
	})
}

// TestConfigValidate: Validate and NewProducer refuse what go-nsq's
// Validate refuses (its ranges, a heartbeat above ReadTimeout) and nsqpub's
// own fields' impossible values, and accept what nsqd judges by its flags.
func TestConfigValidate(t *testing.T) {
	bad := []struct {
		name string
		cfg  *Config
	}{
		{"nil", nil},
		{"heartbeat 90s above ReadTimeout 60s", &Config{HeartbeatInterval: 90 * time.Second}},
		{"heartbeat 2s above ReadTimeout 1s", &Config{HeartbeatInterval: 2 * time.Second, ReadTimeout: time.Second}},
		{"read 99ms", &Config{ReadTimeout: 99 * time.Millisecond, HeartbeatInterval: -1}},
		{"read 6m", &Config{ReadTimeout: 6 * time.Minute}},
		{"negative read", &Config{ReadTimeout: -time.Second}},
		{"write 99ms", &Config{WriteTimeout: 99 * time.Millisecond}},
		{"write 6m", &Config{WriteTimeout: 6 * time.Minute}},
		{"lookupd poll 9ms", &Config{LookupdPollInterval: 9 * time.Millisecond}},
		{"jitter 1.5", &Config{LookupdPollJitter: 1.5}},
		{"jitter -0.1", &Config{LookupdPollJitter: -0.1}},
		{"max requeue 61m", &Config{MaxRequeueDelay: 61 * time.Minute}},
		{"default requeue -1", &Config{DefaultRequeueDelay: -1}},
		{"max backoff 61m", &Config{MaxBackoffDuration: 61 * time.Minute}},
		{"backoff multiplier -1", &Config{BackoffMultiplier: -1}},
		{"low rdy idle 999ms", &Config{LowRdyIdleTimeout: 999 * time.Millisecond}},
		{"low rdy 6m", &Config{LowRdyTimeout: 6 * time.Minute}},
		{"rdy redistribute 6s", &Config{RDYRedistributeInterval: 6 * time.Second}},
		{"sample rate 100", &Config{SampleRate: 100}},
		{"sample rate -1", &Config{SampleRate: -1}},
		{"deflate level 10", &Config{DeflateLevel: 10}},
		{"deflate level -1", &Config{DeflateLevel: -1}},
		{"max in flight -1", &Config{MaxInFlight: -1}},
		{"msg timeout -1", &Config{MsgTimeout: -1}},
		{"negative msg size", &Config{MaxMsgSize: -1}},
		{"body size 8", &Config{MaxBodySize: 8}},
		{"negative delay", &Config{MaxDeferDelay: -1}},
		{"negative stop", &Config{StopTimeout: -1}},
		{"negative stall", &Config{StallTimeout: -1}},
		{"negative queue", &Config{MaxQueued: -1}},
		{"negative command window", &Config{MaxInFlightCommands: -1}},
		{"negative byte window", &Config{MaxInFlightBytes: -1}},
		{"unknown pool strategy", &Config{PoolStrategy: 9}},
	}
	for _, tt := range bad {
		if err := tt.cfg.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", tt.name, err)
		}
		if p, err := NewProducer("127.0.0.1:4150", tt.cfg); !errors.Is(err, ErrInvalidConfig) || p != nil {
			t.Errorf("%s: NewProducer = %v, %v, want nil and ErrInvalidConfig", tt.name, p, err)
		}
	}
	good := []struct {
		name string
		cfg  *Config
	}{
		{"zero", &Config{}},
		{"NewConfig", NewConfig()},
		{"no heartbeat", &Config{HeartbeatInterval: -1}},
		{"heartbeat 100ms, for nsqd to refuse", &Config{HeartbeatInterval: 100 * time.Millisecond}},
		{"heartbeat -1s, for nsqd to refuse", &Config{HeartbeatInterval: -time.Second}},
		{"heartbeat 90s with ReadTimeout 2m", &Config{HeartbeatInterval: 90 * time.Second, ReadTimeout: 2 * time.Minute}},
		{"heartbeat equal to ReadTimeout", &Config{HeartbeatInterval: 5 * time.Minute, ReadTimeout: 5 * time.Minute}},
		{"deflate and snappy, for nsqd to judge", &Config{Deflate: true, Snappy: true}},
		{"negative dial timeout", &Config{DialTimeout: -time.Second}},
		{"output buffer -1", &Config{OutputBufferSize: -1, OutputBufferTimeout: -1}},
		{"output buffer 10 GiB, 10h", &Config{OutputBufferSize: 10 << 30, OutputBufferTimeout: 10 * time.Hour}},
		{"msg timeout 100h", &Config{MsgTimeout: 100 * time.Hour}},
		{"edges of go-nsq's ranges", &Config{ReadTimeout: 100 * time.Millisecond, WriteTimeout: 5 * time.Minute, HeartbeatInterval: -1,
			LookupdPollInterval: 10 * time.Millisecond, LookupdPollJitter: 1, MaxRequeueDelay: time.Hour, MaxBackoffDuration: time.Hour,
			BackoffMultiplier: time.Hour, MaxAttempts: 65535, LowRdyIdleTimeout: time.Second, LowRdyTimeout: 5 * time.Minute,
			RDYRedistributeInterval: time.Millisecond, SampleRate: 99, DeflateLevel: 9, MaxInFlight: 0}},
		{"jitter NaN", &Config{LookupdPollJitter: math.NaN()}},
		{"shared consumer window", &Config{MaxInFlight: 2500}},
	}
	for _, tt := range good {
		before := *tt.cfg
		if err := tt.cfg.Validate(); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if p, err := NewProducer("127.0.0.1:4150", tt.cfg); err != nil || p == nil {
			t.Errorf("%s: NewProducer = %v, %v", tt.name, p, err)
		} else {
			p.Stop()
		}
		if !reflect.DeepEqual(*tt.cfg, before) && !math.IsNaN(before.LookupdPollJitter) {
			t.Errorf("%s: Validate or NewProducer changed the Config", tt.name)
		}
	}
}

// TestNewConfig: NewConfig fills in go-nsq's defaults for go-nsq's fields,
// and nsqpub's for its own; a zero Config gets the ones a Producer uses.
func TestNewConfig(t *testing.T) {
	host, _ := os.Hostname()
	short, _, _ := strings.Cut(host, ".")
	c := NewConfig()
	c.BackoffStrategy = nil
	want := Config{
		DialTimeout: time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Second,
		LookupdPollInterval: time.Minute, LookupdPollJitter: 0.3, LookupdPollTimeout: time.Minute,
		MaxRequeueDelay: 15 * time.Minute, DefaultRequeueDelay: 90 * time.Second,
		MaxBackoffDuration: 2 * time.Minute, BackoffMultiplier: time.Second, MaxAttempts: 5,
		LowRdyIdleTimeout: 10 * time.Second, LowRdyTimeout: 30 * time.Second, RDYRedistributeInterval: 5 * time.Second,
		ClientID: short, Hostname: host, UserAgent: "nsqpub/" + Version, HeartbeatInterval: 30 * time.Second,
		DeflateLevel: 6, OutputBufferSize: 16384, OutputBufferTimeout: 250 * time.Millisecond, MaxInFlight: 1,
		LookupdAuthorization: true,
		MaxMsgSize:           1048576, MaxBodySize: 5242880, MaxDeferDelay: time.Hour, StopTimeout: 5 * time.Second,
		MaxQueued: 1024, MaxQueuedBytes: 16 << 20, MaxInFlightCommands: 64, MaxInFlightBytes: 16 << 20,
		StallTimeout: 2 * time.Second,
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("NewConfig\n%+v\nwant\n%+v", *c, want)
	}
	if s, ok := NewConfig().BackoffStrategy.(*ExponentialStrategy); !ok || s.Calculate(3) != 8*time.Second {
		t.Errorf("NewConfig's BackoffStrategy %#v", NewConfig().BackoffStrategy)
	}
	p := newTestProducer(t, "127.0.0.1:4150", &Config{})
	if p.cfg.HeartbeatInterval != 30*time.Second || p.cfg.OutputBufferSize != 0 || p.cfg.MaxInFlightCommands != 64 || p.cfg.MsgTimeout != 0 {
		t.Errorf("zero Config in a Producer: %+v", p.cfg)
	}
}

// TestBackoffStrategy: the strategies compute from the BackoffMultiplier of
// the Config they were set on, as go-nsq's do.
func TestBackoffStrategy(t *testing.T) {
	c := NewConfig()
	for _, v := range []any{"full_jitter", &FullJitterStrategy{}} {
		if err := c.Set("backoff_strategy", v); err != nil {
			t.Fatal(err)
		}
		if err := c.Set("backoff_multiplier", "10ms"); err != nil {
			t.Fatal(err)
		}
		for attempt := range 6 {
			if d := c.BackoffStrategy.Calculate(attempt); d < 0 || d >= 10*time.Millisecond<<attempt {
				t.Errorf("full jitter attempt %d: %v, want [0, %v)", attempt, d, 10*time.Millisecond<<attempt)
			}
		}
	}
	if err := c.Set("backoff_strategy", "exponential"); err != nil {
		t.Fatal(err)
	}
	for attempt, want := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond} {
		if d := c.BackoffStrategy.Calculate(attempt); d != want {
			t.Errorf("exponential attempt %d: %v, want %v", attempt, d, want)
		}
	}
	for _, s := range []BackoffStrategy{&ExponentialStrategy{}, &FullJitterStrategy{}} {
		if d := s.Calculate(2); d < 0 || d > 4*time.Second {
			t.Errorf("%T on no Config: %v, want at most 4s (multiplier 1s)", s, d)
		}
	}
	if d := (&FullJitterStrategy{cfg: &Config{}}).Calculate(3); d != 0 {
		t.Errorf("full jitter with a zero multiplier: %v", d)
	}
}
