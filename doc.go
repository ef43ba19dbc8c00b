// Package nsqpub publishes messages to NSQ (nsqd) using the Go standard
// library alone. It keeps go-nsq's producer API — NewConfig, Config.Set,
// NewProducer, Publish, PublishAsync, MultiPublish, DeferredPublish, Ping,
// Stop — so a service can switch by changing its import line, and adds
// context variants, typed errors and a ProducerPool.
//
// A Producer connects lazily to one nsqd, negotiates TLS, snappy or deflate
// and AUTH as configured, and runs two goroutines per connection: a writer
// that writes every queued publish with one flush (merging consecutive PUBs
// to a topic into one MPUB) and answers heartbeats, and a reader that
// completes publishes in order as nsqd answers. ARCHITECTURE.md follows one
// publish through the files.
//
// Every publish ends exactly once. OutcomeOf tells what its error means:
// OK (nsqd queued it), Rejected (bad input, refused before sending, or a
// *ServerError from nsqd), NotSent (ErrNotConnected, ErrStopped: nsqd never
// executed it; what nsqd never executed is resent on a new connection
// automatically) or Unknown (ErrUnknownOutcome: written, then the
// connection ended before the answer). Nothing is logged unless a logger is
// set. See README.md, RELIABILITY.md and BENCHMARKS.md.
package nsqpub
