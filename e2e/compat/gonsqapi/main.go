// Command gonsqapi names every producer-side identifier of go-nsq v1.1.0's
// exported API, the way a program written against go-nsq uses it. It is a
// compile check: the compatibility test builds it as it is, and again with
// only the import path changed to github.com/nsqpub/nsqpub, and both must
// build. Signatures are pinned by assigning functions and method values to
// variables of go-nsq's exact function types, and fields by assigning
// variables of go-nsq's exact field types, so that a program passing them
// around compiles too. Running it does nothing.
//
// Named here:
//   - VERSION; ErrAlreadyConnected, ErrClosing, ErrNotConnected,
//     ErrOverMaxInFlight, ErrStopped; ErrIdentify and ErrProtocol as struct
//     types with a Reason field.
//   - IsValidTopicName, IsValidChannelName.
//   - Config, NewConfig, Config.Set, Config.Validate and every Config field,
//     consumer-only ones included (a service often shares one Config between
//     its consumers and producers); BackoffStrategy with ExponentialStrategy
//     and FullJitterStrategy, the values of Config.BackoffStrategy.
//   - ConfigFlag (its Config field, Set, String: a flag.Value).
//   - Command (Name, Params, Body, WriteTo, String) and the constructors of
//     the commands a producer sends: Publish, DeferredPublish, MultiPublish,
//     Nop, Ping.
//   - LogLevel, its constants and String.
//   - Producer: NewProducer and every method; ProducerTransaction's Error
//     and Args.
//
// Deliberately not named (consumer or raw-connection machinery, which a
// producer-only library does not provide):
//   - Consumer, NewConsumer, ConsumerStats, Handler, HandlerFunc,
//     FailedMessageLogger, DiscoveryFilter, Message, NewMessage,
//     DecodeMessage, MessageID, MsgIDLength, MessageDelegate.
//   - Conn, NewConn, ConnDelegate, IdentifyResponse, AuthResponse.
//   - The commands only a consumer or a raw connection sends: Identify, Auth,
//     Ready, Finish, Requeue, Touch, StartClose, Subscribe, Register,
//     UnRegister.
//   - Frame and state constants (FrameTypeResponse, FrameTypeError,
//     FrameTypeMessage, StateInit, StateDisconnected, StateConnected),
//     MagicV1, MagicV2, ReadResponse, ReadUnpackedResponse, UnpackResponse.
//   - ExponentialStrategy.Calculate and FullJitterStrategy.Calculate beyond
//     satisfying BackoffStrategy.
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"time"

	nsq "github.com/nsqio/go-nsq"
)

// userAgent needs VERSION to be a constant string.
const userAgent = "gonsqapi go-nsq/" + nsq.VERSION

// The errors a producer may return, compared with == as go-nsq's users do.
var producerErrors = []error{
	nsq.ErrAlreadyConnected,
	nsq.ErrClosing,
	nsq.ErrNotConnected,
	nsq.ErrOverMaxInFlight,
	nsq.ErrStopped,
	nsq.ErrIdentify{Reason: "E_BAD_BODY"},
	nsq.ErrProtocol{Reason: "E_BAD_TOPIC"},
}

// Package-level functions, with go-nsq's signatures.
var (
	_ func(string) bool                                        = nsq.IsValidTopicName
	_ func(string) bool                                        = nsq.IsValidChannelName
	_ func() *nsq.Config                                       = nsq.NewConfig
	_ func(string, *nsq.Config) (*nsq.Producer, error)         = nsq.NewProducer
	_ func(string, []byte) *nsq.Command                        = nsq.Publish
	_ func(string, time.Duration, []byte) *nsq.Command         = nsq.DeferredPublish
	_ func(string, [][]byte) (*nsq.Command, error)             = nsq.MultiPublish
	_ func() *nsq.Command                                      = nsq.Nop
	_ func() *nsq.Command                                      = nsq.Ping
	_ func(*nsq.Config, string, interface{}) error             = (*nsq.Config).Set
	_ func(*nsq.Config) error                                  = (*nsq.Config).Validate
	_ func(*nsq.Command, io.Writer) (int64, error)             = (*nsq.Command).WriteTo
	_ func(*nsq.Command) string                                = (*nsq.Command).String
	_ func(*nsq.ConfigFlag, string) error                      = (*nsq.ConfigFlag).Set
	_ func(*nsq.ConfigFlag) string                             = (*nsq.ConfigFlag).String
	_ func(nsq.LogLevel) string                                = nsq.LogLevel.String
	_ func(nsq.ErrIdentify) string                             = nsq.ErrIdentify.Error
	_ func(nsq.ErrProtocol) string                             = nsq.ErrProtocol.Error
	_ func(*nsq.Producer) error                                = (*nsq.Producer).Ping
	_ func(*nsq.Producer)                                      = (*nsq.Producer).Stop
	_ func(*nsq.Producer) string                               = (*nsq.Producer).String
	_ func(*nsq.Producer, nsq.LogLevel)                        = (*nsq.Producer).SetLoggerLevel
	_ func(*nsq.Producer, string, []byte) error                = (*nsq.Producer).Publish
	_ func(*nsq.Producer, string, [][]byte) error              = (*nsq.Producer).MultiPublish
	_ func(*nsq.Producer, string, time.Duration, []byte) error = (*nsq.Producer).DeferredPublish

	// The asynchronous publishes, variadic arguments included.
	_ func(*nsq.Producer, string, []byte, chan *nsq.ProducerTransaction, ...interface{}) error                = (*nsq.Producer).PublishAsync
	_ func(*nsq.Producer, string, [][]byte, chan *nsq.ProducerTransaction, ...interface{}) error              = (*nsq.Producer).MultiPublishAsync
	_ func(*nsq.Producer, string, time.Duration, []byte, chan *nsq.ProducerTransaction, ...interface{}) error = (*nsq.Producer).DeferredPublishAsync
)

// Interfaces the types satisfy.
var (
	_ flag.Value          = &nsq.ConfigFlag{}
	_ io.WriterTo         = &nsq.Command{}
	_ fmt.Stringer        = &nsq.Command{}
	_ fmt.Stringer        = nsq.LogLevelInfo
	_ fmt.Stringer        = &nsq.Producer{}
	_ error               = nsq.ErrIdentify{}
	_ error               = nsq.ErrProtocol{}
	_ nsq.BackoffStrategy = &nsq.ExponentialStrategy{}
	_ nsq.BackoffStrategy = &nsq.FullJitterStrategy{}
)

// outputLogger is a logger of its own kind: go-nsq takes anything with
// Output.
type outputLogger struct{}

func (outputLogger) Output(calldepth int, s string) error { return nil }

func main() {}

// configure sets every Config field from a variable of go-nsq's type for
// it, then the options by name, and registers a --producer-opt flag as
// to_nsq does.
func configure(fs *flag.FlagSet) (*nsq.Config, error) {
	var (
		duration time.Duration
		jitter   float64
		attempts uint16
		rate     int32
		size     int64
		inFlight int
		level    int
		on       bool
		text     string
		addr     net.Addr
		tlsCfg   *tls.Config
		backoff  nsq.BackoffStrategy = &nsq.ExponentialStrategy{}
	)
	cfg := nsq.NewConfig()
	cfg.DialTimeout = duration
	cfg.ReadTimeout = duration
	cfg.WriteTimeout = duration
	cfg.LocalAddr = addr
	cfg.LookupdPollInterval = duration
	cfg.LookupdPollJitter = jitter
	cfg.LookupdPollTimeout = duration
	cfg.MaxRequeueDelay = duration
	cfg.DefaultRequeueDelay = duration
	cfg.BackoffStrategy = backoff
	cfg.MaxBackoffDuration = duration
	cfg.BackoffMultiplier = duration
	cfg.MaxAttempts = attempts
	cfg.LowRdyIdleTimeout = duration
	cfg.LowRdyTimeout = duration
	cfg.RDYRedistributeInterval = duration
	cfg.ClientID = text
	cfg.Hostname = text
	cfg.UserAgent = userAgent
	cfg.HeartbeatInterval = duration
	cfg.SampleRate = rate
	cfg.TlsV1 = on
	cfg.TlsConfig = tlsCfg
	cfg.Deflate = on
	cfg.DeflateLevel = level
	cfg.Snappy = on
	cfg.OutputBufferSize = size
	cfg.OutputBufferTimeout = duration
	cfg.MaxInFlight = inFlight
	cfg.MsgTimeout = duration
	cfg.AuthSecret = text
	cfg.LookupdAuthorization = on
	cfg.BackoffStrategy = &nsq.FullJitterStrategy{}

	if err := cfg.Set("max_in_flight", 10); err != nil {
		return nil, err
	}
	fs.Var(&nsq.ConfigFlag{Config: cfg}, "producer-opt", "option to pass through to nsq.Producer")
	return cfg, cfg.Validate()
}

// produce uses every Producer method and reads what comes back.
func produce(addr string, cfg *nsq.Config) error {
	p, err := nsq.NewProducer(addr, cfg)
	if err != nil {
		return err
	}
	defer p.Stop()
	p.SetLogger(log.Default(), nsq.LogLevelInfo)
	p.SetLogger(outputLogger{}, nsq.LogLevelWarning)
	p.SetLoggerForLevel(log.Default(), nsq.LogLevelError)
	p.SetLoggerLevel(nsq.LogLevelDebug)
	p.SetLoggerLevel(nsq.LogLevelMax)
	_ = p.String()
	if err := p.Ping(); err != nil {
		return err
	}
	done := make(chan *nsq.ProducerTransaction, 3)
	body := []byte("body")
	errs := []error{
		p.Publish("t", body),
		p.MultiPublish("t", [][]byte{body}),
		p.DeferredPublish("t", time.Second, body),
		p.PublishAsync("t", body, done, "arg", 1),
		p.MultiPublishAsync("t", [][]byte{body}, done),
		p.DeferredPublishAsync("t", time.Second, body, done, nil),
	}
	for _, err := range errs {
		switch e := err.(type) {
		case nil:
		case nsq.ErrIdentify:
			return fmt.Errorf("identify: %s", e.Reason)
		case nsq.ErrProtocol:
			return fmt.Errorf("protocol: %s", e.Reason)
		default:
			if err == nsq.ErrStopped || errors.Is(err, nsq.ErrNotConnected) {
				return err
			}
		}
	}
	for range 3 {
		t := <-done
		var args []interface{} = t.Args
		if t.Error != nil {
			return fmt.Errorf("%v: %w", args, t.Error)
		}
	}
	return nil
}

// commands builds and writes every producer command.
func commands(w io.Writer) error {
	mpub, err := nsq.MultiPublish("t", [][]byte{[]byte("a")})
	if err != nil {
		return err
	}
	for _, cmd := range []*nsq.Command{
		nsq.Publish("t", []byte("a")),
		nsq.DeferredPublish("t", time.Second, []byte("a")),
		mpub,
		nsq.Nop(),
		nsq.Ping(),
		{Name: []byte("PUB"), Params: [][]byte{[]byte("t")}, Body: []byte("a")},
	} {
		if _, err := cmd.WriteTo(w); err != nil {
			return fmt.Errorf("%s: %w", cmd.String(), err)
		}
		var name, body []byte = cmd.Name, cmd.Body
		var params [][]byte = cmd.Params
		_, _, _ = name, body, params
	}
	return nil
}

// valid checks names as a producer would before publishing.
func valid(topic, channel string) bool {
	return nsq.IsValidTopicName(topic) && nsq.IsValidChannelName(channel)
}

// levels names every log level.
func levels() []nsq.LogLevel {
	return []nsq.LogLevel{nsq.LogLevelDebug, nsq.LogLevelInfo, nsq.LogLevelWarning, nsq.LogLevelError, nsq.LogLevelMax}
}

// The functions above are for the compiler: main never calls them.
var _ = []interface{}{configure, produce, commands, valid, levels, producerErrors}
