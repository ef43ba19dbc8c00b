package nsqpub

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Version is the library version, sent to nsqd in the default user agent.
const Version = "0.1.0"

// Defaults used when a Config field is left at its zero value.
const (
	DefaultDialTimeout       = time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = time.Second
	DefaultHeartbeatInterval = 30 * time.Second
	DefaultDeflateLevel      = 6
	DefaultMaxMsgSize        = 1048576
	DefaultMaxBodySize       = 5242880
	DefaultMaxDeferDelay     = time.Hour
	DefaultStopTimeout       = 5 * time.Second
	DefaultMaxQueued         = 1024
	DefaultMaxInFlight       = 64
	DefaultMaxInFlightBytes  = 16 << 20
)

// ErrInvalidConfig is wrapped by every error that Config.Set, Config.Validate
// and NewProducer return for a bad configuration.
var ErrInvalidConfig = errors.New("nsqpub: invalid config")

// Config holds the settings of a Producer. It is a plain struct: set fields
// directly or, for go-nsq compatibility, by name with Set. The zero value is
// valid: every zero field means its default. A Config is copied by
// NewProducer, so changing it afterwards has no effect on that Producer.
// A Config is not safe for concurrent modification.
type Config struct {
	// DialTimeout bounds connecting: the TCP dial plus the protocol handshake
	// (magic, IDENTIFY, TLS/compression upgrades, AUTH). Default 1s.
	DialTimeout time.Duration
	// ReadTimeout bounds the wait for any frame from nsqd while the
	// connection is up. With heartbeats on, the connection is also declared
	// dead after 2 × HeartbeatInterval of silence. Default 60s.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write to nsqd. Default 1s.
	WriteTimeout time.Duration
	// LocalAddr is the local address to dial from. Default: chosen by the OS.
	LocalAddr net.Addr

	// ClientID is sent in IDENTIFY. Default: the short host name.
	ClientID string
	// Hostname is sent in IDENTIFY. Default: os.Hostname().
	Hostname string
	// UserAgent is sent in IDENTIFY. Default: "nsqpub/<Version>".
	UserAgent string
	// HeartbeatInterval asks nsqd for heartbeats at this interval; it must
	// be between 1s and 60s. A negative value disables heartbeats. Default 30s.
	HeartbeatInterval time.Duration

	// TlsV1 asks nsqd to upgrade the connection to TLS.
	TlsV1 bool
	// TlsConfig configures the TLS client. Default: system roots, ServerName
	// taken from the address's host.
	TlsConfig *tls.Config
	// Deflate asks nsqd for deflate compression at DeflateLevel (1–9, default 6).
	Deflate      bool
	DeflateLevel int
	// Snappy asks nsqd for snappy compression. It cannot be combined with Deflate.
	Snappy bool
	// AuthSecret is sent with AUTH when nsqd requires authentication.
	AuthSecret string

	// MaxMsgSize is the largest message body accepted by Publish; set it to
	// nsqd's --max-msg-size. Default 1048576.
	MaxMsgSize int
	// MaxBodySize is the largest MPUB body (4 + Σ(4 + len)); set it to nsqd's
	// --max-body-size. Default 5242880.
	MaxBodySize int
	// MaxDeferDelay is the largest DeferredPublish delay; set it to nsqd's
	// --max-req-timeout. Default 1h.
	MaxDeferDelay time.Duration

	// StopTimeout bounds how long Stop waits for nsqd to answer what was
	// already queued or in flight. Default 5s.
	StopTimeout time.Duration
	// MaxQueued is how many publishes may wait for the connection's writer
	// before publishers block. Default 1024.
	MaxQueued int
	// MaxInFlight is how many commands may be written to nsqd and not yet
	// answered before the writer waits. Default 64.
	MaxInFlight int
	// MaxInFlightBytes bounds the message bytes written to nsqd and not yet
	// answered; with MaxQueued it bounds the memory a fast publisher can
	// hold up. A single larger command is still sent alone. Default 16 MiB.
	MaxInFlightBytes int

	// Logger receives structured events (connects, failures, reconnects,
	// pool node health) with fields such as addr, error and attempt.
	// Default nil: silent. SetLogger adds a go-nsq style logger as well.
	Logger *slog.Logger

	// PoolStrategy is how a ProducerPool chooses a node: RoundRobin (the
	// default) or Failover. Set takes "round-robin" or "failover".
	PoolStrategy PoolStrategy

	// AtLeastOnce resends, on a new connection, publishes whose outcome is
	// unknown (written, then the connection ended before nsqd answered). nsqd
	// may then hold a message twice; without it (the default) such publishes
	// fail with ErrUnknownOutcome. Publishes that were certainly not executed
	// are always resent, up to 4 times.
	AtLeastOnce bool

	// tlsCertFile and tlsKeyFile remember the tls_cert and tls_key options
	// until both are known.
	tlsCertFile, tlsKeyFile string
}

// NewConfig returns a Config with every default filled in, as go-nsq's
// NewConfig does. A zero Config{} behaves the same.
func NewConfig() *Config {
	c := &Config{}
	c.setDefaults()
	return c
}

// setDefaults replaces every zero field with its default.
func (c *Config) setDefaults() {
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.DeflateLevel == 0 {
		c.DeflateLevel = DefaultDeflateLevel
	}
	if c.MaxMsgSize == 0 {
		c.MaxMsgSize = DefaultMaxMsgSize
	}
	if c.MaxBodySize == 0 {
		c.MaxBodySize = DefaultMaxBodySize
	}
	if c.MaxDeferDelay == 0 {
		c.MaxDeferDelay = DefaultMaxDeferDelay
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.MaxQueued == 0 {
		c.MaxQueued = DefaultMaxQueued
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxInFlightBytes == 0 {
		c.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
	}
	if c.ClientID == "" {
		c.ClientID, _, _ = strings.Cut(c.Hostname, ".")
	}
	if c.UserAgent == "" {
		c.UserAgent = "nsqpub/" + Version
	}
}

// Validate reports the first problem with the configuration, as an error
// wrapping ErrInvalidConfig, or nil. Zero fields are valid (they mean the
// default); Validate does not modify c.
func (c *Config) Validate() error {
	if c == nil {
		return fmt.Errorf("%w: config is nil", ErrInvalidConfig)
	}
	d := *c
	d.setDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case d.DialTimeout < 0:
		return bad("dial_timeout %v is negative", d.DialTimeout)
	case d.ReadTimeout < 0:
		return bad("read_timeout %v is negative", d.ReadTimeout)
	case d.WriteTimeout < 0:
		return bad("write_timeout %v is negative", d.WriteTimeout)
	case d.StopTimeout < 0:
		return bad("stop_timeout %v is negative", d.StopTimeout)
	case d.HeartbeatInterval > 0 && (d.HeartbeatInterval < time.Second || d.HeartbeatInterval > time.Minute):
		return bad("heartbeat_interval %v must be between 1s and 60s, or negative to disable", d.HeartbeatInterval)
	case d.DeflateLevel < 1 || d.DeflateLevel > 9:
		return bad("deflate_level %d must be between 1 and 9", d.DeflateLevel)
	case d.Deflate && d.Snappy:
		return bad("deflate and snappy cannot both be enabled")
	case d.MaxMsgSize < 1:
		return bad("max_msg_size %d must be positive", d.MaxMsgSize)
	case d.MaxBodySize < 9:
		return bad("max_body_size %d is too small for one message", d.MaxBodySize)
	case d.MaxDeferDelay < 0:
		return bad("max_defer_delay %v is negative", d.MaxDeferDelay)
	case d.MaxQueued < 1:
		return bad("max_queued %d must be positive", d.MaxQueued)
	case d.PoolStrategy != RoundRobin && d.PoolStrategy != Failover:
		return bad("pool_strategy %d is unknown", d.PoolStrategy)
	case d.MaxInFlightBytes < 1:
		return bad("max_in_flight_bytes %d must be positive", d.MaxInFlightBytes)
	case d.MaxInFlight < 1:
		return bad("max_in_flight_commands %d must be positive", d.MaxInFlight)
	}
	return nil
}

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
// (Validate does).
func (c *Config) Set(option string, value interface{}) error {
	name := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(option)), "-", "_")
	err := c.set(name, value)
	if err != nil {
		return fmt.Errorf("%w: option %q value %v: %w", ErrInvalidConfig, option, value, err)
	}
	return nil
}

func (c *Config) set(name string, v interface{}) (err error) {
	switch name {
	case "dial_timeout":
		c.DialTimeout, err = toDuration(v)
	case "read_timeout":
		c.ReadTimeout, err = toDuration(v)
	case "write_timeout":
		c.WriteTimeout, err = toDuration(v)
	case "heartbeat_interval":
		c.HeartbeatInterval, err = toDuration(v)
	case "stop_timeout":
		c.StopTimeout, err = toDuration(v)
	case "max_defer_delay", "max_req_timeout":
		c.MaxDeferDelay, err = toDuration(v)
	case "local_addr":
		c.LocalAddr, err = toAddr(v)
	case "client_id":
		c.ClientID, err = toString(v)
	case "hostname":
		c.Hostname, err = toString(v)
	case "user_agent":
		c.UserAgent, err = toString(v)
	case "auth_secret":
		c.AuthSecret, err = toString(v)
	case "tls_v1":
		c.TlsV1, err = toBool(v)
	case "tls_config":
		t, ok := v.(*tls.Config)
		if !ok {
			return errors.New("want a *tls.Config")
		}
		c.TlsConfig = t
	case "deflate":
		c.Deflate, err = toBool(v)
	case "deflate_level":
		c.DeflateLevel, err = toInt(v)
	case "snappy":
		c.Snappy, err = toBool(v)
	case "max_msg_size":
		c.MaxMsgSize, err = toInt(v)
	case "max_body_size":
		c.MaxBodySize, err = toInt(v)
	case "max_queued":
		c.MaxQueued, err = toInt(v)
	case "max_in_flight_commands":
		c.MaxInFlight, err = toInt(v)
	case "max_in_flight_bytes":
		c.MaxInFlightBytes, err = toInt(v)
	case "at_least_once":
		c.AtLeastOnce, err = toBool(v)
	case "pool_strategy":
		switch v {
		case "round-robin", "round_robin", RoundRobin:
			c.PoolStrategy = RoundRobin
		case "failover", Failover:
			c.PoolStrategy = Failover
		default:
			return errors.New(`want "round-robin" or "failover"`)
		}
	case "tls_root_ca_file", "tls_insecure_skip_verify", "tls_cert", "tls_key", "tls_min_version":
		return c.setTLSOption(name, v)
	default:
		if consumerOnlyOptions[name] {
			return nil
		}
		return errors.New("unknown option")
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

// intValue returns v as an int64 if it has an integer type.
func intValue(v interface{}) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint:
		return int64(n), true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return int64(n), true
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
