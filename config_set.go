package nsqpub

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// Set sets the option named by go-nsq's name (for example "dial_timeout";
// dashes are accepted in place of underscores, and case and surrounding
// spaces are ignored) to value, converting value as go-nsq's Set does:
//
//   - durations: a time.Duration, a string for time.ParseDuration, or an
//     integer (int, int16, int32, int64 or an unsigned of those sizes)
//     counted in milliseconds;
//   - integers: an integer, or a decimal string; the value is converted to
//     the field's type as Go conversions do;
//   - floats: a float, an integer, or a string for strconv.ParseFloat;
//   - booleans: a bool, a string for strconv.ParseBool, or an integer (non-zero
//     is true);
//   - strings: anything, formatted with fmt (integers with %d, floats %f);
//   - local_addr: a net.Addr or a "host:port" string;
//   - backoff_strategy: a BackoffStrategy, "exponential" (or "") or
//     "full_jitter"; tls_config: a *tls.Config.
//
// Options with a range in go-nsq (read_timeout, deflate_level, sample_rate…)
// are checked against it, as go-nsq's Set does; other values are checked by
// Validate. The TLS pseudo-options tls_root_ca_file, tls_insecure_skip_verify,
// tls_cert, tls_key and tls_min_version ("ssl3.0", "tls1.0" … "tls1.3")
// build TlsConfig without turning TLS on (tls_v1 does that). nsqpub's own
// fields have options too: max_msg_size, max_body_size, max_defer_delay
// (or max_req_timeout), stop_timeout, max_queued, max_queued_bytes,
// max_in_flight_commands, max_in_flight_bytes, pool_strategy ("round-robin"
// or "failover"), stall_timeout and at_least_once.
//
// An unknown option, a value of the wrong type or out of range returns an
// error wrapping ErrInvalidConfig, and leaves c as it was.
func (c *Config) Set(option string, value interface{}) error {
	name := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(option)), "-", "_")
	d := *c
	if err := d.set(name, value); err != nil {
		return fmt.Errorf("%w: option %q value %v: %w", ErrInvalidConfig, option, value, err)
	}
	*c = d
	if s, ok := c.BackoffStrategy.(interface{ setConfig(*Config) }); ok && name == "backoff_strategy" {
		s.setConfig(c)
	}
	return nil
}

// configOption is one option Set knows: the field it sets and, for go-nsq's
// fields that have one, go-nsq's range (min and max of the field's own type;
// nil for no bound).
type configOption struct {
	field    func(c *Config) any
	min, max any
}

const (
	minTimeout = 100 * time.Millisecond
	maxTimeout = 5 * time.Minute
	maxDelay   = 60 * time.Minute
)

// options maps each option name to its field. Set converts the value by the
// field's type; no reflection is involved.
var options = map[string]configOption{
	"dial_timeout":               {field: func(c *Config) any { return &c.DialTimeout }},
	"read_timeout":               {func(c *Config) any { return &c.ReadTimeout }, minTimeout, maxTimeout},
	"write_timeout":              {func(c *Config) any { return &c.WriteTimeout }, minTimeout, maxTimeout},
	"local_addr":                 {field: func(c *Config) any { return &c.LocalAddr }},
	"lookupd_poll_interval":      {func(c *Config) any { return &c.LookupdPollInterval }, 10 * time.Millisecond, maxTimeout},
	"lookupd_poll_jitter":        {func(c *Config) any { return &c.LookupdPollJitter }, 0.0, 1.0},
	"lookupd_poll_timeout":       {field: func(c *Config) any { return &c.LookupdPollTimeout }},
	"max_requeue_delay":          {func(c *Config) any { return &c.MaxRequeueDelay }, time.Duration(0), maxDelay},
	"default_requeue_delay":      {func(c *Config) any { return &c.DefaultRequeueDelay }, time.Duration(0), maxDelay},
	"backoff_strategy":           {field: func(c *Config) any { return &c.BackoffStrategy }},
	"max_backoff_duration":       {func(c *Config) any { return &c.MaxBackoffDuration }, time.Duration(0), maxDelay},
	"backoff_multiplier":         {func(c *Config) any { return &c.BackoffMultiplier }, time.Duration(0), maxDelay},
	"max_attempts":               {field: func(c *Config) any { return &c.MaxAttempts }}, // go-nsq's 0–65535 is the whole uint16
	"low_rdy_idle_timeout":       {func(c *Config) any { return &c.LowRdyIdleTimeout }, time.Second, maxTimeout},
	"low_rdy_timeout":            {func(c *Config) any { return &c.LowRdyTimeout }, time.Second, maxTimeout},
	"rdy_redistribute_interval":  {func(c *Config) any { return &c.RDYRedistributeInterval }, time.Millisecond, 5 * time.Second},
	"client_id":                  {field: func(c *Config) any { return &c.ClientID }},
	"hostname":                   {field: func(c *Config) any { return &c.Hostname }},
	"user_agent":                 {field: func(c *Config) any { return &c.UserAgent }},
	"heartbeat_interval":         {field: func(c *Config) any { return &c.HeartbeatInterval }},
	"sample_rate":                {func(c *Config) any { return &c.SampleRate }, int32(0), int32(99)},
	"tls_v1":                     {field: func(c *Config) any { return &c.TlsV1 }},
	"tls_config":                 {field: func(c *Config) any { return &c.TlsConfig }},
	"deflate":                    {field: func(c *Config) any { return &c.Deflate }},
	"deflate_level":              {func(c *Config) any { return &c.DeflateLevel }, 1, 9},
	"snappy":                     {field: func(c *Config) any { return &c.Snappy }},
	"output_buffer_size":         {field: func(c *Config) any { return &c.OutputBufferSize }},
	"output_buffer_timeout":      {field: func(c *Config) any { return &c.OutputBufferTimeout }},
	"max_in_flight":              {func(c *Config) any { return &c.MaxInFlight }, 0, nil},
	"msg_timeout":                {func(c *Config) any { return &c.MsgTimeout }, time.Duration(0), nil},
	"auth_secret":                {field: func(c *Config) any { return &c.AuthSecret }},
	"skip_lookupd_authorization": {field: func(c *Config) any { return &c.LookupdAuthorization }},

	"max_msg_size":           {field: func(c *Config) any { return &c.MaxMsgSize }},
	"max_body_size":          {field: func(c *Config) any { return &c.MaxBodySize }},
	"max_defer_delay":        {field: func(c *Config) any { return &c.MaxDeferDelay }},
	"max_req_timeout":        {field: func(c *Config) any { return &c.MaxDeferDelay }},
	"stop_timeout":           {field: func(c *Config) any { return &c.StopTimeout }},
	"max_queued":             {field: func(c *Config) any { return &c.MaxQueued }},
	"max_queued_bytes":       {field: func(c *Config) any { return &c.MaxQueuedBytes }},
	"max_in_flight_commands": {field: func(c *Config) any { return &c.MaxInFlightCommands }},
	"max_in_flight_bytes":    {field: func(c *Config) any { return &c.MaxInFlightBytes }},
	"pool_strategy":          {field: func(c *Config) any { return &c.PoolStrategy }},
	"stall_timeout":          {field: func(c *Config) any { return &c.StallTimeout }},
	"at_least_once":          {field: func(c *Config) any { return &c.AtLeastOnce }},
}

// rangedOptions lists, in a fixed order, the options that have a range, for
// Validate.
var rangedOptions = func() []string {
	var names []string
	for name, o := range options {
		if o.min != nil || o.max != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}()

func (c *Config) set(name string, v interface{}) (err error) {
	o, ok := options[name]
	switch {
	case ok:
	case name == "tls_root_ca_file", name == "tls_insecure_skip_verify", name == "tls_cert", name == "tls_key", name == "tls_min_version":
		return c.setTLSOption(name, v)
	default:
		return errors.New("unknown option")
	}
	switch f := o.field(c).(type) {
	case *time.Duration:
		*f, err = coerceDuration(v)
	case *int:
		var n int64
		n, err = coerceInt64(v)
		*f = int(n)
	case *int32:
		var n int64
		n, err = coerceInt64(v)
		*f = int32(n)
	case *int64:
		*f, err = coerceInt64(v)
	case *uint16:
		var n uint64
		n, err = coerceUint64(v)
		*f = uint16(n)
	case *float64:
		*f, err = coerceFloat64(v)
	case *bool:
		*f, err = coerceBool(v)
	case *string:
		*f = coerceString(v)
	case *net.Addr:
		*f, err = coerceAddr(v)
	case *BackoffStrategy:
		*f, err = coerceBackoffStrategy(v)
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
	if err != nil {
		return err
	}
	return o.inRange(c)
}

// inRange checks the option's field of c against the option's range.
func (o configOption) inRange(c *Config) error {
	switch f := o.field(c).(type) {
	case *time.Duration:
		return checkRange(*f, o.min, o.max)
	case *int:
		return checkRange(*f, o.min, o.max)
	case *int32:
		return checkRange(*f, o.min, o.max)
	case *float64:
		return checkRange(*f, o.min, o.max)
	}
	return nil
}

// checkRange reports v below min or above max; a bound that is not a T
// (nil) is no bound. NaN is in every range, as in go-nsq.
func checkRange[T cmp.Ordered](v T, min, max any) error {
	if m, ok := min.(T); ok && v < m {
		return fmt.Errorf("%v is below the minimum %v", v, m)
	}
	if m, ok := max.(T); ok && v > m {
		return fmt.Errorf("%v is above the maximum %v", v, m)
	}
	return nil
}

// tlsVersions are the values of tls_min_version: go-nsq's, and tls1.3.
var tlsVersions = map[string]uint16{
	"ssl3.0": tls.VersionSSL30, // go-nsq accepts it; Go's TLS client never offers SSL 3.0
	"tls1.0": tls.VersionTLS10, "tls1.1": tls.VersionTLS11, "tls1.2": tls.VersionTLS12, "tls1.3": tls.VersionTLS13,
}

// setTLSOption applies one of go-nsq's TLS pseudo-options. It works on a
// copy of TlsConfig (a new one if it is nil) and installs the copy only on
// success, so a failed Set changes nothing, and a *tls.Config the Config
// already pointed to — shared with the caller, or with a Producer made from
// this Config — is never modified. The options do not turn TLS on: set
// TlsV1 (tls_v1) for that. tls_cert and tls_key load the key pair once
// both are known, in either order. File names and tls_min_version must be
// strings, as in go-nsq.
func (c *Config) setTLSOption(name string, v interface{}) error {
	t := c.TlsConfig.Clone()
	if t == nil {
		t = &tls.Config{}
	}
	certFile, keyFile := c.tlsCertFile, c.tlsKeyFile
	if name == "tls_insecure_skip_verify" {
		b, err := coerceBool(v)
		if err != nil {
			return err
		}
		t.InsecureSkipVerify = b
		c.TlsConfig = t
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("want a string, got %T", v)
	}
	switch name {
	case "tls_min_version":
		ver, ok := tlsVersions[s]
		if !ok {
			return errors.New("want ssl3.0, tls1.0, tls1.1, tls1.2 or tls1.3")
		}
		t.MinVersion = ver
	case "tls_root_ca_file":
		pem, err := os.ReadFile(s)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("no PEM certificate in %s", s)
		}
		t.RootCAs = pool
	case "tls_cert", "tls_key":
		if name == "tls_cert" {
			certFile = s
		} else {
			keyFile = s
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
