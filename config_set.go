package nsqpub

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// consumerOnlyOptions are go-nsq option names that only affect a Consumer.
// Set accepts and ignores them so that a go-nsq configuration shared by
// consumers and producers keeps working.
var consumerOnlyOptions = map[string]bool{
	"lookupd_poll_interval": true, "lookupd_poll_jitter": true, "max_requeue_delay": true,
	"default_requeue_delay": true, "backoff_strategy": true, "max_backoff_duration": true,
	"backoff_multiplier": true, "max_attempts": true, "low_rdy_idle_timeout": true,
	"low_rdy_timeout": true, "rdy_redistribute_interval": true, "rdy_redistribute_on_idle": true,
	"output_buffer_size": true, "output_buffer_timeout": true, "max_in_flight": true,
	"sample_rate": true, "msg_timeout": true, "auth_secret_file": true,
}

// Set sets the option named by go-nsq's name (for example "dial_timeout";
// dashes are accepted in place of underscores) to value. Durations take a
// string such as "2s", a time.Duration, or an integer number of
// milliseconds; booleans take a bool, a string strconv.ParseBool accepts, or
// an integer; numbers take an integer or a decimal string. The TLS
// pseudo-options tls_root_ca_file, tls_insecure_skip_verify, tls_cert,
// tls_key and tls_min_version build TlsConfig. go-nsq's consumer-only options
// are accepted and ignored. An unknown option or a value of the wrong type
// returns an error wrapping ErrInvalidConfig; Set does not check ranges
// (Validate does). A failed Set leaves c as it was.
func (c *Config) Set(option string, value interface{}) error {
	name := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(option)), "-", "_")
	d := *c
	if err := d.set(name, value); err != nil {
		return fmt.Errorf("%w: option %q value %v: %w", ErrInvalidConfig, option, value, err)
	}
	*c = d
	return nil
}

// fields maps each option name to the Config field it sets. Set converts
// the value by the field's type; no reflection is involved.
var fields = map[string]func(c *Config) any{
	"dial_timeout":           func(c *Config) any { return &c.DialTimeout },
	"read_timeout":           func(c *Config) any { return &c.ReadTimeout },
	"write_timeout":          func(c *Config) any { return &c.WriteTimeout },
	"heartbeat_interval":     func(c *Config) any { return &c.HeartbeatInterval },
	"stop_timeout":           func(c *Config) any { return &c.StopTimeout },
	"stall_timeout":          func(c *Config) any { return &c.StallTimeout },
	"max_defer_delay":        func(c *Config) any { return &c.MaxDeferDelay },
	"max_req_timeout":        func(c *Config) any { return &c.MaxDeferDelay },
	"local_addr":             func(c *Config) any { return &c.LocalAddr },
	"client_id":              func(c *Config) any { return &c.ClientID },
	"hostname":               func(c *Config) any { return &c.Hostname },
	"user_agent":             func(c *Config) any { return &c.UserAgent },
	"auth_secret":            func(c *Config) any { return &c.AuthSecret },
	"tls_v1":                 func(c *Config) any { return &c.TlsV1 },
	"tls_config":             func(c *Config) any { return &c.TlsConfig },
	"deflate":                func(c *Config) any { return &c.Deflate },
	"deflate_level":          func(c *Config) any { return &c.DeflateLevel },
	"snappy":                 func(c *Config) any { return &c.Snappy },
	"max_msg_size":           func(c *Config) any { return &c.MaxMsgSize },
	"max_body_size":          func(c *Config) any { return &c.MaxBodySize },
	"max_queued":             func(c *Config) any { return &c.MaxQueued },
	"max_queued_bytes":       func(c *Config) any { return &c.MaxQueuedBytes },
	"max_in_flight_commands": func(c *Config) any { return &c.MaxInFlight },
	"max_in_flight_bytes":    func(c *Config) any { return &c.MaxInFlightBytes },
	"at_least_once":          func(c *Config) any { return &c.AtLeastOnce },
	"pool_strategy":          func(c *Config) any { return &c.PoolStrategy },
}

func (c *Config) set(name string, v interface{}) (err error) {
	field, ok := fields[name]
	switch {
	case ok:
	case name == "tls_root_ca_file", name == "tls_insecure_skip_verify", name == "tls_cert", name == "tls_key", name == "tls_min_version":
		return c.setTLSOption(name, v)
	case consumerOnlyOptions[name]:
		return nil
	default:
		return errors.New("unknown option")
	}
	switch f := field(c).(type) {
	case *time.Duration:
		*f, err = toDuration(v)
	case *int:
		*f, err = toInt(v)
	case *bool:
		*f, err = toBool(v)
	case *string:
		*f, err = toString(v)
	case *net.Addr:
		*f, err = toAddr(v)
	case **tls.Config:
		t, ok := v.(*tls.Config)
		if !ok {
			return errors.New("want a *tls.Config")
		}
		*f = t
	case *PoolStrategy:
		switch v {
		case "round-robin", "round_robin", RoundRobin:
			*f = RoundRobin
		case "failover", Failover:
			*f = Failover
		default:
			return errors.New(`want "round-robin" or "failover"`)
		}
	}
	return err
}

func toDuration(v interface{}) (time.Duration, error) {
	switch v := v.(type) {
	case time.Duration:
		return v, nil
	case string:
		return time.ParseDuration(v)
	}
	if n, ok := intValue(v); ok {
		return time.Duration(n) * time.Millisecond, nil
	}
	return 0, fmt.Errorf("want a duration, got %T", v)
}

func toBool(v interface{}) (bool, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case string:
		return strconv.ParseBool(v)
	}
	if n, ok := intValue(v); ok {
		return n != 0, nil
	}
	return false, fmt.Errorf("want a bool, got %T", v)
}

func toInt(v interface{}) (int, error) {
	if s, ok := v.(string); ok {
		return strconv.Atoi(s)
	}
	if n, ok := intValue(v); ok {
		return int(n), nil
	}
	return 0, fmt.Errorf("want an integer, got %T", v)
}

func toString(v interface{}) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got %T", v)
	}
	return s, nil
}

func toAddr(v interface{}) (net.Addr, error) {
	switch v := v.(type) {
	case net.Addr:
		return v, nil
	case string:
		return net.ResolveTCPAddr("tcp", v)
	}
	return nil, fmt.Errorf("want a net.Addr or a string, got %T", v)
}

// intValue returns v as an int64 if it has an integer type and fits.
func intValue(v interface{}) (int64, bool) {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		n, err := strconv.ParseInt(fmt.Sprint(v), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// setTLSOption applies one of go-nsq's TLS pseudo-options. It works on a
// copy of TlsConfig (a new one if it is nil) and installs the copy only on
// success, so a failed Set changes nothing, and a *tls.Config the Config
// already pointed to — shared with the caller, or with a Producer made from
// this Config — is never modified. The options do not turn TLS on: set
// TlsV1 (tls_v1) for that. tls_cert and tls_key load the key pair once
// both are known, in either order.
func (c *Config) setTLSOption(name string, v interface{}) error {
	t := c.TlsConfig.Clone()
	if t == nil {
		t = &tls.Config{}
	}
	certFile, keyFile := c.tlsCertFile, c.tlsKeyFile
	switch name {
	case "tls_insecure_skip_verify":
		b, err := toBool(v)
		if err != nil {
			return err
		}
		t.InsecureSkipVerify = b
	case "tls_min_version":
		s, err := toString(v)
		if err != nil {
			return err
		}
		versions := map[string]uint16{"tls1.0": tls.VersionTLS10, "tls1.1": tls.VersionTLS11,
			"tls1.2": tls.VersionTLS12, "tls1.3": tls.VersionTLS13}
		ver, ok := versions[strings.ToLower(s)]
		if !ok {
			return errors.New("want tls1.0, tls1.1, tls1.2 or tls1.3")
		}
		t.MinVersion = ver
	case "tls_root_ca_file":
		path, err := toString(v)
		if err != nil {
			return err
		}
		pem, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("no PEM certificate in %s", path)
		}
		t.RootCAs = pool
	case "tls_cert", "tls_key":
		path, err := toString(v)
		if err != nil {
			return err
		}
		if name == "tls_cert" {
			certFile = path
		} else {
			keyFile = path
		}
		if certFile != "" && keyFile != "" {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return err
			}
			t.Certificates = []tls.Certificate{cert}
		}
	}
	c.TlsConfig, c.tlsCertFile, c.tlsKeyFile = t, certFile, keyFile
	return nil
}
