package nsqpub

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestConfigSet covers the go-nsq option names: each sequence of Sets takes
// effect and leaves a valid Config; tls_v1 turns TLS on, the TLS
// pseudo-options build TlsConfig (and do not turn it on); a bad option or
// value is refused with ErrInvalidConfig without changing the TLS settings;
// and Set never modifies a *tls.Config that the Config shared with someone
// else (a Producer, or the caller).
func TestConfigSet(t *testing.T) {
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
		{[]opt{{"dial_timeout", "2s"}}, func(c *Config) bool { return c.DialTimeout == 2*time.Second }},
		{[]opt{{"dial-timeout", 1500}}, func(c *Config) bool { return c.DialTimeout == 1500*time.Millisecond }},
		{[]opt{{"read_timeout", 3 * time.Second}}, func(c *Config) bool { return c.ReadTimeout == 3*time.Second }},
		{[]opt{{"write_timeout", int64(250)}}, func(c *Config) bool { return c.WriteTimeout == 250*time.Millisecond }},
		{[]opt{{"heartbeat_interval", "5s"}}, func(c *Config) bool { return c.HeartbeatInterval == 5*time.Second }},
		{[]opt{{"deflate", true}}, func(c *Config) bool { return c.Deflate }},
		{[]opt{{"deflate_level", "3"}}, func(c *Config) bool { return c.DeflateLevel == 3 }},
		{[]opt{{"snappy", 1}}, func(c *Config) bool { return c.Snappy }},
		{[]opt{{"auth_secret", "s"}}, func(c *Config) bool { return c.AuthSecret == "s" }},
		{[]opt{{"client_id", "id"}}, func(c *Config) bool { return c.ClientID == "id" }},
		{[]opt{{"hostname", "h"}}, func(c *Config) bool { return c.Hostname == "h" }},
		{[]opt{{"user_agent", "ua"}}, func(c *Config) bool { return c.UserAgent == "ua" }},
		{[]opt{{"local_addr", "127.0.0.1:0"}}, func(c *Config) bool { return c.LocalAddr != nil }},
		{[]opt{{"max_msg_size", 100}}, func(c *Config) bool { return c.MaxMsgSize == 100 }},
		{[]opt{{"max_body_size", "1000"}}, func(c *Config) bool { return c.MaxBodySize == 1000 }},
		{[]opt{{"max_req_timeout", "10m"}}, func(c *Config) bool { return c.MaxDeferDelay == 10*time.Minute }},
		{[]opt{{"max_in_flight", 100}}, func(c *Config) bool { return true }}, // a consumer option, accepted and ignored
		{[]opt{{"pool_strategy", "failover"}}, func(c *Config) bool { return c.PoolStrategy == Failover }},
		{[]opt{{"lookupd_poll_interval", "15s"}}, func(c *Config) bool { return c.LookupdPollInterval == 15*time.Second }},
		{[]opt{{"lookupd_poll_jitter", 0.5}}, func(c *Config) bool { return c.LookupdPollJitter == 0.5 }},
		{[]opt{{"lookupd-poll-jitter", "0.1"}}, func(c *Config) bool { return c.LookupdPollJitter == 0.1 }},
		{[]opt{{"lookupd_poll_timeout", 2000}}, func(c *Config) bool { return c.LookupdPollTimeout == 2*time.Second }},
		{[]opt{{"skip_lookupd_authorization", true}}, func(c *Config) bool { return c.LookupdAuthorization }},
		{[]opt{{"skip_lookupd_authorization", "false"}}, func(c *Config) bool { return !c.LookupdAuthorization }},
		{[]opt{{"pool_strategy", "failover"}, {"pool-strategy", "round-robin"}}, func(c *Config) bool { return c.PoolStrategy == RoundRobin }},
		{[]opt{{"tls_v1", true}}, func(c *Config) bool { return c.TlsV1 && c.TlsConfig == nil }},
		{[]opt{{"tls_v1", "true"}}, func(c *Config) bool { return c.TlsV1 }},
		{[]opt{{"tls-v1", "1"}}, func(c *Config) bool { return c.TlsV1 }},
		{[]opt{{"TLS_V1", 1}, {"tls_v1", 0}}, func(c *Config) bool { return !c.TlsV1 }},
		{[]opt{{"tls_config", &tls.Config{ServerName: "x"}}}, func(c *Config) bool { return c.TlsConfig.ServerName == "x" }},
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
		{[]opt{{"tls_min_version", "TLS1.2"}}, func(c *Config) bool { return c.TlsConfig.MinVersion == tls.VersionTLS12 }},
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
		{"no_such_option", 1},
		{"dial_timeout", "soon"},
		{"dial_timeout", 1.5},
		{"deflate_level", "six"},
		{"client_id", 7},
		{"pool_strategy", "random"},
		{"tls_v1", "maybe"},
		{"tls_config", tls.Config{}},
		{"tls_root_ca_file", junk},
		{"tls_root_ca_file", filepath.Join(dir, "missing.pem")},
		{"tls_root_ca_file", 7},
		{"tls_insecure_skip_verify", "maybe"},
		{"tls_min_version", "ssl3.0"},
		{"tls_min_version", "tls1.4"},
		{"tls_min_version", tls.VersionTLS12},
		{"tls_cert", junk}, // tls_key is set: the pair is loaded, and fails
		{"dial_timeout", "soon"},
		{"client_id", 5},
		{"deflate_level", "x"},
		{"at_least_once", "perhaps"},
		{"lookupd_poll_jitter", "lots"},
		{"lookupd_poll_jitter", true},
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

func TestConfigValidate(t *testing.T) {
	bad := map[string]*Config{
		"nil":                nil,
		"heartbeat 500ms":    {HeartbeatInterval: 500 * time.Millisecond},
		"heartbeat 2m":       {HeartbeatInterval: 2 * time.Minute},
		"deflate and snappy": {Deflate: true, Snappy: true},
		"deflate level 10":   {DeflateLevel: 10},
		"negative dial":      {DialTimeout: -time.Second},
		"negative read":      {ReadTimeout: -time.Second},
		"negative write":     {WriteTimeout: -time.Second},
		"negative msg size":  {MaxMsgSize: -1},
		"negative delay":     {MaxDeferDelay: -1},
		"lookupd poll 5ms":   {LookupdPollInterval: 5 * time.Millisecond},
		"lookupd poll 10m":   {LookupdPollInterval: 10 * time.Minute},
		"lookupd jitter 1.5": {LookupdPollJitter: 1.5},
		"lookupd timeout -1": {LookupdPollTimeout: -1},
	}
	for name, c := range bad {
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", name, err)
		}
		if _, err := NewProducer("127.0.0.1:4150", c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: NewProducer = %v, want ErrInvalidConfig", name, err)
		}
	}
	for name, c := range map[string]*Config{"zero": {}, "NewConfig": NewConfig(), "no heartbeat": {HeartbeatInterval: -1}, "no jitter": {LookupdPollJitter: -1}} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got := NewConfig(); got.DialTimeout != time.Second || got.ReadTimeout != time.Minute || got.WriteTimeout != time.Second ||
		got.HeartbeatInterval != 30*time.Second || got.DeflateLevel != 6 || got.MaxMsgSize != 1048576 ||
		got.MaxBodySize != 5242880 || got.MaxDeferDelay != time.Hour || !strings.HasPrefix(got.UserAgent, "nsqpub/") {
		t.Errorf("NewConfig defaults: %+v", got)
	}
}
