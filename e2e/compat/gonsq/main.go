// Command gonsq is a program written against go-nsq v1.1.0's producer API.
// The compatibility test builds it as it is, and again with only the import
// path changed to github.com/nsqpub/nsqpub, and runs both against a real
// nsqd: usage `gonsq <nsqd-tcp-address> <topic>`. It publishes 6 messages
// whose bodies start with the topic and exits non-zero on any error.
package main

import (
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	nsq "github.com/nsqio/go-nsq"
)

func main() {
	addr, topic := os.Args[1], os.Args[2]
	cfg := nsq.NewConfig()
	if err := cfg.Set("dial_timeout", "2s"); err != nil {
		log.Fatal(err)
	}
	if err := cfg.Set("heartbeat_interval", 10*time.Second); err != nil {
		log.Fatal(err)
	}
	cfg.UserAgent = "compat-test"
	if err := cfg.Validate(); err != nil {
		log.Fatal(err)
	}
	p, err := nsq.NewProducer(addr, cfg)
	if err != nil {
		log.Fatal(err)
	}
	p.SetLogger(log.New(os.Stderr, "", 0), nsq.LogLevelWarning)
	p.SetLoggerLevel(nsq.LogLevelError)
	if err := p.Ping(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("producer for", p.String())
	if err := p.Publish(topic, []byte(topic+" publish")); err != nil {
		log.Fatal(err)
	}
	done := make(chan *nsq.ProducerTransaction, 3)
	if err := p.PublishAsync(topic, []byte(topic+" async"), done, "a", 1); err != nil {
		log.Fatal(err)
	}
	if err := p.MultiPublish(topic, [][]byte{[]byte(topic + " multi 1"), []byte(topic + " multi 2")}); err != nil {
		log.Fatal(err)
	}
	if err := p.DeferredPublish(topic, time.Millisecond, []byte(topic+" deferred")); err != nil {
		log.Fatal(err)
	}
	if err := p.MultiPublishAsync(topic, [][]byte{[]byte(topic + " multi async")}, done); err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		var t *nsq.ProducerTransaction = <-done
		if t.Error != nil {
			log.Fatal(t.Error)
		}
		if len(t.Args) == 2 && (t.Args[0] != "a" || t.Args[1] != 1) {
			log.Fatalf("args %v", t.Args)
		}
	}
	if !nsq.IsValidTopicName(topic) {
		log.Fatal("topic invalid")
	}
	p.Stop()
	if err := p.Publish(topic, []byte("after stop")); !errors.Is(err, nsq.ErrStopped) {
		log.Fatalf("publish after stop: %v", err)
	}
	_ = nsq.ErrNotConnected
}
