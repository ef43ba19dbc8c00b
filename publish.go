package nsqpub

import (
	"context"
	"time"
)

// publishing is the publish API that Producer and ProducerPool share, with
// go-nsq's signatures and context variants. Each turns its arguments into a
// command and hands it to its owner: sync waits for the answer, async
// queues it with a done channel.
type publishing struct {
	sync  func(ctx context.Context, cmd command) error
	async func(cmd command, done chan *ProducerTransaction, args []interface{}) error
}

// Publish publishes body to topic and waits for nsqd's answer (a
// ProducerPool picks one node, and another if the first did not execute it).
// It returns nil only when nsqd answered OK. Errors: a validation error
// (ErrInvalidTopic, ErrEmptyBody, ErrMessageTooLarge) before anything is
// sent; *ServerError when nsqd rejected it; ErrNotConnected (wrapped) when it
// was not executed; ErrUnknownOutcome (wrapped) when the connection ended
// before the answer; ErrStopped after Stop. body must not be modified until
// Publish returns.
func (p *publishing) Publish(topic string, body []byte) error {
	return p.sync(context.Background(), command{kind: cmdPUB, topic: topic, body: body})
}

// PublishContext is Publish bounded by ctx. If ctx ends before the command
// is written, the command is never sent and ctx.Err() is returned; if it
// ends after, the returned error wraps both ErrUnknownOutcome and ctx.Err().
func (p *publishing) PublishContext(ctx context.Context, topic string, body []byte) error {
	return p.sync(ctx, command{kind: cmdPUB, topic: topic, body: body})
}

// MultiPublish publishes every body to topic in one MPUB and waits for
// nsqd's answer, which covers them all: nsqd queued them all (OK) or none
// (refused), except after E_MPUB_FAILED, when it may have queued some
// (ErrUnknownOutcome). Besides Publish's errors it returns ErrEmptyBatch and
// ErrBatchTooLarge. The slices must not be modified until it returns.
func (p *publishing) MultiPublish(topic string, body [][]byte) error {
	return p.sync(context.Background(), command{kind: cmdMPUB, topic: topic, bodies: body})
}

// MultiPublishContext is MultiPublish bounded by ctx, as PublishContext.
func (p *publishing) MultiPublishContext(ctx context.Context, topic string, body [][]byte) error {
	return p.sync(ctx, command{kind: cmdMPUB, topic: topic, bodies: body})
}

// DeferredPublish publishes body to topic to be delivered after delay
// (0 to MaxDeferDelay, sent in whole milliseconds) and waits for nsqd's
// answer. Besides Publish's errors it returns ErrInvalidDelay.
func (p *publishing) DeferredPublish(topic string, delay time.Duration, body []byte) error {
	return p.sync(context.Background(), command{kind: cmdDPUB, topic: topic, delay: delay, body: body})
}

// DeferredPublishContext is DeferredPublish bounded by ctx, as PublishContext.
func (p *publishing) DeferredPublishContext(ctx context.Context, topic string, delay time.Duration, body []byte) error {
	return p.sync(ctx, command{kind: cmdDPUB, topic: topic, delay: delay, body: body})
}

// PublishAsync queues body for topic and returns without waiting for nsqd.
// The result, after any resends (and, in a ProducerPool, any other nodes),
// arrives on doneChan as a *ProducerTransaction carrying args; a nil
// doneChan drops it. Results for one doneChan arrive in the order they
// complete; while doneChan is full they wait for it, delaying nobody else's,
// and those still waiting when Stop's StopTimeout has passed are dropped.
// It blocks while MaxQueued publishes or MaxQueuedBytes of message bytes
// wait to be written, or while MaxQueued results wait for doneChan. It returns validation errors, connection
// errors and ErrStopped directly, and then nothing is sent on doneChan. body
// must not be modified until the result arrives.
func (p *publishing) PublishAsync(topic string, body []byte, doneChan chan *ProducerTransaction, args ...interface{}) error {
	return p.async(command{kind: cmdPUB, topic: topic, body: body}, doneChan, args)
}

// MultiPublishAsync is MultiPublish with the result sent on doneChan, as
// PublishAsync.
func (p *publishing) MultiPublishAsync(topic string, body [][]byte, doneChan chan *ProducerTransaction, args ...interface{}) error {
	return p.async(command{kind: cmdMPUB, topic: topic, bodies: body}, doneChan, args)
}

// DeferredPublishAsync is DeferredPublish with the result sent on doneChan,
// as PublishAsync.
func (p *publishing) DeferredPublishAsync(topic string, delay time.Duration, body []byte, doneChan chan *ProducerTransaction, args ...interface{}) error {
	return p.async(command{kind: cmdDPUB, topic: topic, delay: delay, body: body}, doneChan, args)
}
