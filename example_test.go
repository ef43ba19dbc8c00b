package nsqpub_test

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/nsqpub/nsqpub"
)

// Publish one message and wait for nsqd's answer.
func Example() {
	p, err := nsqpub.NewProducer("127.0.0.1:4150", nsqpub.NewConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer p.Stop()
	if err := p.Publish("events", []byte(`{"id":1}`)); err != nil {
		log.Fatal(err)
	}
}

// PublishAsync returns at once; each result arrives on the done channel with
// the arguments given to the call.
func ExampleProducer_PublishAsync() {
	p, err := nsqpub.NewProducer("127.0.0.1:4150", &nsqpub.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Stop()
	done := make(chan *nsqpub.ProducerTransaction, 100)
	for i := 0; i < 100; i++ {
		if err := p.PublishAsync("events", []byte(fmt.Sprint(i)), done, i); err != nil {
			log.Fatal(err)
		}
	}
	for i := 0; i < 100; i++ {
		if t := <-done; t.Error != nil {
			log.Printf("message %v: %v", t.Args[0], t.Error)
		}
	}
}

// PublishContext bounds a publish, connecting included, by a context, and
// its error says whether the message may still have reached nsqd. Nothing
// listens on port 1 here, so it was not sent.
func ExampleProducer_PublishContext() {
	p, err := nsqpub.NewProducer("127.0.0.1:1", nsqpub.NewConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer p.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = p.PublishContext(ctx, "events", []byte("hello"))
	var se *nsqpub.ServerError
	switch {
	case err == nil:
		fmt.Println("queued by nsqd")
	case errors.As(err, &se):
		fmt.Println("refused by nsqd:", se.Code)
	case errors.Is(err, nsqpub.ErrUnknownOutcome):
		fmt.Println("may or may not have been queued")
	case errors.Is(err, nsqpub.ErrNotConnected), errors.Is(err, context.DeadlineExceeded):
		fmt.Println("not sent")
	}
	// Output: not sent
}

// Invalid publishes fail before anything is sent, with errors that work with
// errors.Is.
func ExampleProducer_Publish_validation() {
	p, _ := nsqpub.NewProducer("127.0.0.1:4150", &nsqpub.Config{MaxMsgSize: 1024})
	defer p.Stop()
	fmt.Println(errors.Is(p.Publish("bad:topic", []byte("x")), nsqpub.ErrInvalidTopic))
	fmt.Println(errors.Is(p.Publish("events", nil), nsqpub.ErrEmptyBody))
	fmt.Println(p.Publish("events", make([]byte, 2000)))
	fmt.Println(p.DeferredPublish("events", 2*time.Hour, []byte("x")))
	// Output:
	// true
	// true
	// message body larger than MaxMsgSize: 2000 > 1024
	// DeferredPublish delay out of range: 2h0m0s not in 0-1h0m0s
}

// Config can be set field by field, or by go-nsq option names with Set.
// max_in_flight is go-nsq's consumer window: it does not change the
// Producer's command window, max_in_flight_commands.
func ExampleConfig_Set() {
	cfg := nsqpub.NewConfig()
	for _, kv := range [][2]interface{}{
		{"dial_timeout", "2s"}, {"heartbeat-interval", 10000}, {"snappy", true}, {"max_in_flight", 2500},
	} {
		if err := cfg.Set(kv[0].(string), kv[1]); err != nil {
			fmt.Println(err)
		}
	}
	fmt.Println(cfg.DialTimeout, cfg.HeartbeatInterval, cfg.Snappy, cfg.MaxInFlight, cfg.MaxInFlightCommands)
	fmt.Println(cfg.Set("no_such_option", 1))
	fmt.Println(cfg.Set("read_timeout", "50ms"))
	cfg.HeartbeatInterval = 90 * time.Second
	fmt.Println(cfg.Validate())
	// Output:
	// 2s 10s true 2500 64
	// invalid config: option "no_such_option" value 1: unknown option
	// invalid config: option "read_timeout" value 50ms: 50ms is below the minimum 100ms
	// invalid config: heartbeat_interval 1m30s must not exceed read_timeout 1m0s
}

func ExampleIsValidTopicName() {
	fmt.Println(nsqpub.IsValidTopicName("events.v1"), nsqpub.IsValidTopicName("metrics#ephemeral"), nsqpub.IsValidTopicName("a:b"))
	// Output: true true false
}

// A ProducerPool spreads publishes over several nsqd (round-robin, or
// Failover for the first healthy one), skips a node that fails for a
// backoff, and sends what it could not publish there to another node.
// With AtLeastOnce it does so even when the outcome is unknown (nsqd may
// then hold a message twice).
func ExampleNewProducerPool() {
	cfg := nsqpub.NewConfig()
	cfg.AtLeastOnce = true
	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil)) // structured events; silent if nil
	pp, err := nsqpub.NewProducerPool([]string{"10.0.0.1:4150", "10.0.0.2:4150", "10.0.0.3:4150"}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pp.Stop()
	if err := pp.Publish("events", []byte(`{"id":1}`)); errors.Is(err, nsqpub.ErrNoHealthyNode) {
		log.Print("every nsqd is down: ", err)
	}
	for _, n := range pp.Stats().Nodes {
		fmt.Println(n.Addr, n.State, n.Healthy, n.Published, n.Failures)
	}
}

// Stats is a cheap snapshot of a Producer's counters, safe to take on every
// scrape: here it is exported with expvar, which net/http's default mux
// serves as JSON on /debug/vars. ProducerPool.Stats gives the same per node.
func ExampleProducer_Stats() {
	p, err := nsqpub.NewProducer("127.0.0.1:4150", nsqpub.NewConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer p.Stop()
	expvar.Publish("nsqpub", expvar.Func(func() any {
		s := p.Stats()
		lastErr := ""
		if s.LastError != nil {
			lastErr = s.LastError.Error()
		}
		return map[string]any{
			"state": s.State, "published": s.Published, "rejected": s.Rejected,
			"not_sent": s.NotSent, "unknown": s.Unknown, "retried": s.Retried,
			"in_flight": s.InFlight, "reconnects": s.Reconnects, "last_error": lastErr,
		}
	}))
	// go http.ListenAndServe("127.0.0.1:8080", nil) // GET /debug/vars
}

// A ProducerPool made with no address finds its nsqd through nsqlookupd:
// every nsqd that /nodes lists joins the rotation, one that no nsqlookupd
// lists any more leaves it, and a topic tombstoned on a node is published
// elsewhere. If nsqlookupd is down, the nodes it listed last are kept.
func ExampleProducerPool_ConnectToNSQLookupd() {
	cfg := nsqpub.NewConfig()
	cfg.LookupdPollInterval = 15 * time.Second
	pp, err := nsqpub.NewProducerPool(nil, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pp.Stop()
	// Returns once nsqlookupd has answered; polling goes on even if it failed.
	if err := pp.ConnectToNSQLookupds([]string{"10.0.0.10:4161", "10.0.0.11:4161"}); err != nil {
		log.Print("nsqlookupd: ", err)
	}
	// A context lets the first publish wait until a node is known.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pp.PublishContext(ctx, "events", []byte(`{"id":1}`)); err != nil {
		log.Fatal(err)
	}
	s := pp.Stats()
	fmt.Println(s.NodesKnown, s.NodesAdded, s.NodesRemoved, s.LookupdErrors)
}
