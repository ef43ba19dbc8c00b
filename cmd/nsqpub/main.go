// Command nsqpub reads records from standard input (or from files) and
// publishes each one as a message to an NSQ topic. It is a drop-in
// replacement for nsq's to_nsq, built on the nsqpub library.
//
// Usage:
//
//	nsqpub --topic=TOPIC --nsqd-tcp-address=HOST:PORT [flags] [FILE...]
//
// The input is split on --delimiter (one byte, newline by default) and every
// non-empty record is published to --topic. A final record without a
// trailing delimiter is published intact (to_nsq drops its last byte). With
// FILE arguments the files are read in order instead of standard input; "-"
// stands for standard input.
//
// Flags (one or two dashes both work):
//
//	--topic TOPIC                 topic to publish to (required)
//	--nsqd-tcp-address HOST:PORT  nsqd to publish to (required, repeatable);
//	                              every record goes to every nsqd, in the
//	                              order the flags were given
//	--balance                     spread the records over the nsqd instead:
//	                              each record goes to one of them, through a
//	                              ProducerPool, which skips an nsqd that
//	                              fails and sends its records to the others
//	--balance-strategy S          with --balance: round-robin (the default)
//	                              or failover (every record to the first
//	                              healthy nsqd, in the order given)
//	--batch N                     publish N records per MPUB (0, the default,
//	                              or 1: one PUB per record)
//	--delimiter C                 record delimiter: one byte, or an escape
//	                              such as \t, \0 or \x1e (default "\n")
//	--rate N                      publish at most N records per second
//	                              (0, the default, means no limit)
//	--producer-opt KEY,VALUE      library option passed to Config.Set, for
//	                              example max_msg_size,2097152 (repeatable;
//	                              a KEY alone sets a boolean option to true)
//	--version                     print the version and exit
//
// Records are published asynchronously, up to 1024 publishes (and 64 MiB)
// awaiting nsqd's answer per nsqd (per pool with --balance). A record nsqd
// (or the library, for example one larger than max_msg_size) does not
// accept is counted and the next record is published. At the end nsqpub
// prints a summary such as
//
//	nsqpub: published 3 records to 2 nsqd (1 failed: 1 not connected)
//
// where the failures count record publishes, so with several nsqd a record
// that fails on two of them counts twice. With --balance the summary adds
// how many messages each nsqd acknowledged:
//
//	nsqpub: published 3 records to 2 nsqd, balanced (127.0.0.1:4150: 2, 127.0.0.1:4152: 1)
//
// The first failure of each kind is also printed when it happens.
//
// With --batch N, records are gathered into batches of N and each batch is
// published with one MPUB, which nsqd queues all or none. A batch is cut
// short so that its MPUB body stays within max_body_size (set it to nsqd's
// --max-body-size), at the end of the input, and when its first record has
// waited 100 ms for the others (so that a slow input is not held up). A
// record larger than max_msg_size fails on its own and never joins a batch.
// A batch nsqd rejects for its body (E_BAD_MESSAGE, E_BAD_BODY) is
// published again record by record, so that only a bad record fails.
//
// With --rate N, record i is published no earlier than i/N seconds after
// the first; the schedule is computed from that instant, so it does not
// drift: when the command itself falls behind (a busy machine), it catches
// up. When the input stalls past a record's slot (by more than 50 ms), the
// schedule restarts from the moment the record arrives rather than
// catching up in a burst.
// With --batch the schedule still paces records: a batch goes out when its
// last record is due.
//
// When standard error is a terminal, a progress line (records read, their
// rate, acknowledgements and errors) is redrawn on it up to four times a
// second, and erased before any other message.
//
// At the end of the input nsqpub waits for nsqd's answer to every publish
// (the library resends what a lost connection left unsent) before it stops.
// SIGINT or SIGTERM stops reading, and bounds that wait by the stop_timeout
// option (5s by default); the summary is printed either way. A second
// signal kills the program at once.
//
// Exit status: 0 when every record was acknowledged (by every nsqd, or with
// --balance by one); 1 when a publish failed or an input could not be read;
// 2 for a usage error.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nsqpub/nsqpub"
)

// Tuning constants.
const (
	// maxWindow is how many publishes per nsqd may await their result.
	maxWindow = 1024
	// readBufSize is the input buffer; longer records are read in pieces.
	readBufSize = 64 << 10
	// chunkSize and chunkBytes bound what the reader hands over at once
	// (a chunk also goes out as soon as no more input is buffered).
	chunkSize  = 256
	chunkBytes = 1 << 20
	// slabSize and slabMax: records up to slabMax bytes are copied into
	// shared slabs of slabSize bytes, to save one allocation per record.
	slabSize = 64 << 10
	slabMax  = 4 << 10
	// maxRate bounds --rate, so that the schedule arithmetic cannot overflow.
	maxRate = 1_000_000_000
	// pacerSlack is how late the input may deliver a record before the
	// rate schedule restarts from its arrival instead of catching up.
	pacerSlack = 50 * time.Millisecond
	// resultGrace bounds the wait for results after every Producer stopped.
	resultGrace = 5 * time.Second
	// maxBatch bounds --batch (MaxBodySize bounds a batch's bytes anyway).
	maxBatch = 1 << 20
)

// batchLinger is how long records may wait in a partial batch for more
// input before the batch is published anyway, so that a slow input (tail
// -f) is not held up. A variable so that tests can change it.
var batchLinger = 100 * time.Millisecond

// maxWindowBytes bounds the bytes of the publishes awaiting their result per
// nsqd (one record is always allowed), so that big records cannot hold
// maxWindow × MaxMsgSize in memory. A variable so that tests can lower it.
var maxWindowBytes = 64 << 20

// errInterrupted is the failure of a record that was read but could not be
// handed to an nsqd before a signal arrived.
var errInterrupted = errors.New("interrupted before publishing")

// main runs the command with the process's arguments and standard streams,
// cancelling on SIGINT or SIGTERM; a second signal kills the process.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole command: it parses args, reads the inputs (stdin unless
// files are named), publishes every record and returns the exit status.
// Cancelling ctx stops reading as a signal does.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	opts, code := parseFlags(args, stdout, stderr)
	if opts == nil {
		return code
	}
	p := &publisher{
		topic:   opts.topic,
		window:  maxWindow,
		maxMsg:  opts.cfg.MaxMsgSize,
		maxBody: opts.cfg.MaxBodySize,
		batchN:  max(opts.batch, 1),
		errw:    &errWriter{w: stderr},
		kinds:   map[string]int{},
	}
	if q := opts.cfg.MaxQueued; q > 0 && q < p.window {
		// Never more outstanding than the library queues: PublishAsync then
		// never blocks on a full queue.
		p.window = q
	}
	if p.maxMsg <= 0 {
		p.maxMsg = nsqpub.DefaultMaxMsgSize
	}
	if p.maxBody <= 0 {
		p.maxBody = nsqpub.DefaultMaxBodySize
	}
	if opts.balance {
		pool, err := nsqpub.NewProducerPool(opts.addrs, opts.cfg)
		if err != nil {
			fmt.Fprintf(stderr, "nsqpub: %v\n", err)
			return 2
		}
		p.pool = pool
		p.sinks = []sink{pool}
		p.names = []string{"the nsqd pool " + pool.String()}
	} else {
		for _, addr := range opts.addrs {
			prod, err := nsqpub.NewProducer(addr, opts.cfg)
			if err != nil {
				for _, s := range p.sinks {
					s.Stop()
				}
				fmt.Fprintf(stderr, "nsqpub: %v\n", err)
				return 2
			}
			p.sinks = append(p.sinks, prod)
			p.names = append(p.names, addr)
		}
	}
	for range p.sinks {
		p.done = append(p.done, make(chan *nsqpub.ProducerTransaction, p.window))
	}
	p.out = make([]int, len(p.sinks))
	p.outR = make([]int, len(p.sinks))
	p.outB = make([]int, len(p.sinks))
	return p.run(ctx, opts.inputs, stdin, opts.delim, opts.rate)
}

// options are the parsed command line.
type options struct {
	topic   string
	addrs   []string // deduplicated, in the order given
	delim   byte
	rate    int64
	batch   int  // records per MPUB; 0 or 1: one PUB per record
	balance bool // spread the records over the nsqd with a ProducerPool
	cfg     *nsqpub.Config
	inputs  []string // file names, "-" for stdin; empty means stdin
}

// stringList is a repeatable string flag.
type stringList []string

// String returns the values joined by commas.
func (s *stringList) String() string { return strings.Join(*s, ",") }

// Set appends one value.
func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// producerOpts is the repeatable --producer-opt flag: each KEY,VALUE is
// applied to cfg at once with Config.Set, as go-nsq's ConfigFlag does.
type producerOpts struct {
	cfg  *nsqpub.Config
	seen []string
}

// String returns the options given so far.
func (o *producerOpts) String() string { return strings.Join(o.seen, " ") }

// Set applies "KEY,VALUE" (or "KEY" alone, meaning true) to the Config.
func (o *producerOpts) Set(opt string) error {
	key, value, ok := strings.Cut(opt, ",")
	var err error
	if ok {
		err = o.cfg.Set(key, value)
	} else {
		err = o.cfg.Set(key, true)
	}
	if err != nil {
		return err
	}
	o.seen = append(o.seen, opt)
	return nil
}

// parseFlags parses args. It returns the options, or nil and the exit
// status when the command is already done: 0 after --version or -h, 2 after
// a usage error, which it has reported on stderr.
func parseFlags(args []string, stdout, stderr io.Writer) (*options, int) {
	fs := flag.NewFlagSet("nsqpub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := nsqpub.NewConfig()
	var addrs stringList
	topic := fs.String("topic", "", "NSQ `topic` to publish to (required)")
	fs.Var(&addrs, "nsqd-tcp-address", "nsqd TCP `address` host:port (required, repeatable; every record goes to every nsqd)")
	delimiter := fs.String("delimiter", "\n", "record delimiter: one byte, or an escape such as \\t, \\0 or \\x1e")
	rate := fs.Int64("rate", 0, "publish at most `N` records per second (0 = no limit)")
	balance := fs.Bool("balance", false, "spread the records over the nsqd (each record to one) instead of sending every record to every nsqd")
	strategy := fs.String("balance-strategy", "", "with --balance: `round-robin` (default) or failover (the first healthy nsqd, in the order given)")
	batchN := fs.Int("batch", 0, "publish `N` records per MPUB (0 or 1: one PUB per record)")
	fs.Var(&producerOpts{cfg: cfg}, "producer-opt", "library option as `key,value`, passed to Config.Set (repeatable)")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: nsqpub --topic=TOPIC --nsqd-tcp-address=HOST:PORT [flags] [FILE...]\n\n"+
			"Publishes every non-empty delimited record of FILEs (default: standard input;\n"+
			"\"-\" is standard input) to TOPIC on every nsqd given, or with --balance on one\n"+
			"of them.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2 // the flag package has printed the error and the usage
	}
	if *version {
		fmt.Fprintf(stdout, "nsqpub %s\n", nsqpub.Version)
		return nil, 0
	}
	usageError := func(format string, a ...any) (*options, int) {
		fmt.Fprintf(stderr, "nsqpub: "+format+"\n", a...)
		fmt.Fprintf(stderr, "Run 'nsqpub -h' for usage.\n")
		return nil, 2
	}
	switch {
	case *topic == "":
		return usageError("--topic is required")
	case !nsqpub.IsValidTopicName(*topic):
		return usageError("invalid --topic %q: want 1-64 characters of [.a-zA-Z0-9_-], optionally ending in #ephemeral", *topic)
	case len(addrs) == 0:
		return usageError("--nsqd-tcp-address is required")
	case *rate < 0 || *rate > maxRate:
		return usageError("--rate %d must be between 0 (no limit) and %d", *rate, maxRate)
	case *batchN < 0 || *batchN > maxBatch:
		return usageError("--batch %d must be between 0 (no batching) and %d", *batchN, maxBatch)
	case *strategy != "" && !*balance:
		return usageError("--balance-strategy needs --balance")
	}
	if *strategy != "" {
		if err := cfg.Set("pool_strategy", *strategy); err != nil {
			return usageError("--balance-strategy %q: want round-robin or failover", *strategy)
		}
	}
	delim, err := parseDelimiter(*delimiter)
	if err != nil {
		return usageError("%v", err)
	}
	if err := cfg.Validate(); err != nil {
		return usageError("%s", strings.TrimPrefix(err.Error(), "nsqpub: "))
	}
	opts := &options{topic: *topic, delim: delim, rate: *rate, batch: *batchN, balance: *balance, cfg: cfg, inputs: fs.Args()}
	seen := map[string]bool{}
	for _, a := range addrs {
		if a == "" {
			return usageError("empty --nsqd-tcp-address")
		}
		if !seen[a] { // to_nsq keeps one producer per address
			seen[a] = true
			opts.addrs = append(opts.addrs, a)
		}
	}
	return opts, 0
}

// parseDelimiter returns the delimiter byte for s: a single byte, or a Go
// escape for one byte such as `\t`, `\x1e` or `\000` (`\0` is accepted for
// NUL, which cannot be passed in an argument).
func parseDelimiter(s string) (byte, error) {
	if len(s) == 1 {
		return s[0], nil
	}
	if s == `\0` {
		return 0, nil
	}
	if strings.HasPrefix(s, `\`) {
		if u, err := strconv.Unquote(`"` + s + `"`); err == nil && len(u) == 1 {
			return u[0], nil
		}
	}
	return 0, fmt.Errorf("--delimiter %q must be one byte, or an escape such as \\t, \\0 or \\x1e", s)
}

// record is one non-empty record of the input.
type record struct {
	src  string // the input it came from: a file name or "stdin"
	num  int    // 1-based position in src, counting empty records
	body []byte // its bytes, a private copy; nil when size > the maximum
	size int    // its length
}

// chunk is what the reader hands to the publisher: records, or an error
// about one input.
type chunk struct {
	recs []record
	err  error
	at   time.Time // when the reader had the records: the rate schedule's view of the input
}

// splitter cuts delimited records out of a buffered input.
type splitter struct {
	br    *bufio.Reader
	delim byte
	max   int    // records longer than this are measured but not kept
	slab  []byte // shared backing store for short records
}

// next returns the next record, without its delimiter, and its length.
// The record is a copy that is never written again. A record longer than
// max is consumed but returned as nil with its true length. A final record
// with no delimiter is returned whole; then next returns io.EOF. On a read
// error the partial record is dropped and the error returned.
func (s *splitter) next() (rec []byte, n int, err error) {
	var long []byte // the record so far, when it spans several reads
	for first := true; ; first = false {
		frag, err := s.br.ReadSlice(s.delim)
		if err == nil {
			frag = frag[:len(frag)-1]
		}
		n += len(frag)
		switch {
		case err != nil && err != bufio.ErrBufferFull && err != io.EOF:
			return nil, 0, err
		case err == io.EOF && n == 0:
			return nil, 0, io.EOF
		case n > s.max:
			long = nil
		case first && err != bufio.ErrBufferFull:
			return s.copyOf(frag), n, nil
		default:
			long = append(long, frag...)
		}
		if err != bufio.ErrBufferFull {
			return long, n, nil
		}
	}
}

// copyOf returns a copy of b, carved out of the current slab when b is short.
func (s *splitter) copyOf(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if len(b) > slabMax {
		return append([]byte(nil), b...)
	}
	if len(s.slab)+len(b) > cap(s.slab) {
		s.slab = make([]byte, 0, slabSize)
	}
	start := len(s.slab)
	s.slab = append(s.slab, b...)
	return s.slab[start:len(s.slab):len(s.slab)]
}

// readInputs reads the named inputs in order ("-" is stdin; none means
// stdin), splits them into records and sends them on out in chunks, then
// closes out. An input that cannot be opened or read is reported as a chunk
// with an error and the next one is read. It returns early once quit is
// closed.
func readInputs(inputs []string, stdin io.Reader, delim byte, max int, out chan<- chunk, quit <-chan struct{}) {
	defer close(out)
	send := func(c chunk) bool {
		select {
		case out <- c:
			return true
		case <-quit:
			return false
		}
	}
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	for _, name := range inputs {
		if name == "-" {
			if !readInput(stdin, "stdin", delim, max, send) {
				return
			}
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			if !send(chunk{err: err}) {
				return
			}
			continue
		}
		ok := readInput(f, name, delim, max, send)
		f.Close()
		if !ok {
			return
		}
	}
}

// readInput splits r, named src, into records and sends them in chunks: a
// chunk goes out when it is full (chunkSize records or chunkBytes bytes) or
// when no more input is buffered, so that a slow input's records are
// published as they come. It reports false
// if send did (the publisher has gone).
func readInput(r io.Reader, src string, delim byte, max int, send func(chunk) bool) bool {
	sp := &splitter{br: bufio.NewReaderSize(r, readBufSize), delim: delim, max: max}
	recs := make([]record, 0, chunkSize)
	size := 0 // bytes kept by recs
	for num := 1; ; num++ {
		body, n, err := sp.next()
		if n > 0 {
			recs = append(recs, record{src: src, num: num, body: body, size: n})
			size += len(body)
		}
		if err != nil {
			if len(recs) > 0 && !send(chunk{recs: recs, at: time.Now()}) {
				return false
			}
			if err != io.EOF {
				return send(chunk{err: fmt.Errorf("reading %s: %w", src, err)})
			}
			return true
		}
		if len(recs) > 0 && (len(recs) == cap(recs) || size >= chunkBytes || sp.br.Buffered() == 0) {
			if !send(chunk{recs: recs, at: time.Now()}) {
				return false
			}
			recs, size = make([]record, 0, chunkSize), 0
		}
	}
}

// pacer releases records at a fixed rate: record i of a schedule is due
// i/rate seconds after the schedule's anchor, computed exactly from it, so
// rounding never accumulates.
type pacer struct {
	rate   int64     // records per second; 0 means no limit
	n      int64     // records released so far
	base   int64     // n when the schedule was anchored
	anchor time.Time // when the schedule started
}

// due returns when record i (i >= base) is due.
func (p *pacer) due(i int64) time.Time {
	k := i - p.base
	return p.anchor.Add(time.Duration(k/p.rate)*time.Second + time.Duration(k%p.rate)*time.Second/time.Duration(p.rate))
}

// next returns when the next record may be released, given that the input
// had it at ready. The first record, or one the input delivered more than
// pacerSlack after its slot, anchors a new schedule at ready. A record the
// input delivered in time keeps its slot however late the command itself
// gets to it (a busy machine): the schedule then catches up.
func (p *pacer) next(ready time.Time) time.Time {
	if p.n == 0 || ready.Sub(p.due(p.n)) > pacerSlack {
		p.anchor, p.base = ready, p.n
	}
	t := p.due(p.n)
	p.n++
	return t
}

// sink is where records are published: a Producer for one nsqd (fan-out,
// one per nsqd) or the ProducerPool over all of them (--balance).
type sink interface {
	PublishAsync(topic string, body []byte, done chan *nsqpub.ProducerTransaction, args ...interface{}) error
	MultiPublishAsync(topic string, body [][]byte, done chan *nsqpub.ProducerTransaction, args ...interface{}) error
	Stop()
}

// batch is what one publish carries: one record, or up to --batch records
// in one MPUB. Its result covers all of them.
type batch struct {
	recs  []*record
	bytes int // Σ len(body)
}

// mpubSize is the MPUB body size of b, as nsqd's --max-body-size counts it.
func (b *batch) mpubSize() int { return 4 + 4*len(b.recs) + b.bytes }

// bodies returns the records' bodies.
func (b *batch) bodies() [][]byte {
	out := make([][]byte, len(b.recs))
	for i, r := range b.recs {
		out[i] = r.body
	}
	return out
}

// where describes b's records in a message.
func (b *batch) where() string {
	r := b.recs[0]
	if len(b.recs) == 1 {
		return fmt.Sprintf("%s record %d", r.src, r.num)
	}
	return fmt.Sprintf("a batch of %d records from %s record %d on", len(b.recs), r.src, r.num)
}

// splitItem is a batch nsqd rejected for its body, to be published again
// record by record to sink j so that only a bad record fails.
type splitItem struct {
	j   int
	b   *batch
	err error // nsqd's rejection
}

// publisher hands records to its sinks, in batches when asked to, and
// tallies the results.
type publisher struct {
	topic  string
	sinks  []sink
	names  []string                           // per sink, for messages
	pool   *nsqpub.ProducerPool               // the only sink with --balance, else nil
	done   []chan *nsqpub.ProducerTransaction // per sink, capacity window
	out    []int                              // per sink, publishes awaiting their result
	outR   []int                              // per sink, the records of those publishes
	outB   []int                              // per sink, the bytes of those publishes
	window int
	maxMsg int
	// maxBody bounds a batch's MPUB body (nsqpub's MaxBodySize); batchN is
	// the records per publish (1 without --batch).
	maxBody, batchN int
	errw            *errWriter

	cur     *batch      // records waiting for their batch to fill, or nil
	curAt   time.Time   // when cur got its first record
	split   []splitItem // rejected batches to publish again one by one
	stopped bool        // the sinks are stopped: nothing more can be published

	records atomic.Int64   // records read and handed on (or failed at once)
	acked   atomic.Int64   // record publishes nsqd acknowledged
	failed  atomic.Int64   // record publishes that failed
	kinds   map[string]int // failed record publishes by kind of error
	order   []string       // the kinds, in order of first occurrence
}

// run reads the inputs and publishes every record until the inputs end or
// ctx does, then collects every result (see finish), prints the summary and
// returns the exit status.
func (p *publisher) run(ctx context.Context, inputs []string, stdin io.Reader, delim byte, rate int64) int {
	chunks := make(chan chunk, 4)
	quit := make(chan struct{})
	go readInputs(inputs, stdin, delim, p.maxMsg, chunks, quit)
	stopProgress := p.startProgress()
	pace := &pacer{rate: rate}
	inputErrs := 0
	interrupted := false
loop:
	for {
		c, ok := p.nextChunk(ctx, chunks)
		if !ok {
			interrupted = ctx.Err() != nil
			break
		}
		if c.err != nil {
			p.errw.printf("nsqpub: %v\n", c.err)
			inputErrs++
		}
		for i := range c.recs {
			if !p.pace(ctx, pace, c.at) || !p.add(ctx, &c.recs[i]) {
				interrupted = true
				break loop
			}
		}
	}
	close(quit)
	// Records read are published, or counted as failed, even when
	// interrupted.
	p.flush(ctx)
	p.finish(ctx)
	stopProgress()
	if interrupted {
		p.errw.printf("nsqpub: interrupted: stopped reading input\n")
	}
	p.summary()
	if p.failed.Load() > 0 || inputErrs > 0 {
		return 1
	}
	return 0
}

// nextChunk returns the next chunk of input, or false at its end or when
// ctx ends. While records wait in a partial batch it waits at most until
// the batch is batchLinger old, publishes it, and waits on.
func (p *publisher) nextChunk(ctx context.Context, chunks <-chan chunk) (chunk, bool) {
	for {
		if p.cur == nil {
			select {
			case <-ctx.Done():
				return chunk{}, false
			case c, ok := <-chunks:
				return c, ok
			}
		}
		if d := time.Until(p.curAt.Add(batchLinger)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return chunk{}, false
			case c, ok := <-chunks:
				t.Stop()
				return c, ok
			case <-t.C:
			}
		}
		if !p.flush(ctx) {
			return chunk{}, false
		}
	}
}

// pace waits until the next record is due by the --rate schedule (at once
// without --rate), publishing a partial batch meanwhile if it becomes
// batchLinger old. It reports false if ctx ended first.
func (p *publisher) pace(ctx context.Context, pc *pacer, ready time.Time) bool {
	if pc.rate <= 0 {
		return ctx.Err() == nil
	}
	due := pc.next(ready)
	for {
		wake := due
		if p.cur != nil {
			if l := p.curAt.Add(batchLinger); l.Before(wake) {
				wake = l
			}
		}
		if d := time.Until(wake); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return false
			}
		}
		if !time.Now().Before(due) {
			return true
		}
		if !p.flush(ctx) { // the batch's linger expired before the record's slot
			return false
		}
	}
}

// add takes one record: a record too big for max_msg_size fails at once on
// every sink; the others join the current batch, which is published when
// full. A record that would take the batch past MaxBodySize, or past the
// byte window, is put in the next batch. It reports false if ctx ended
// while it waited for a window.
func (p *publisher) add(ctx context.Context, r *record) bool {
	p.records.Add(1)
	if r.size > p.maxMsg {
		b := &batch{recs: []*record{r}}
		for j := range p.sinks {
			p.fail(j, b, fmt.Errorf("%w: %d > %d", nsqpub.ErrMessageTooLarge, r.size, p.maxMsg))
		}
		return true
	}
	if c := p.cur; c != nil && (c.mpubSize()+4+len(r.body) > p.maxBody || c.bytes+len(r.body) > maxWindowBytes) {
		if !p.flush(ctx) {
			return false
		}
	}
	if p.cur == nil {
		p.cur, p.curAt = &batch{recs: make([]*record, 0, min(p.batchN, chunkSize))}, time.Now()
	}
	p.cur.recs = append(p.cur.recs, r)
	p.cur.bytes += len(r.body)
	if len(p.cur.recs) >= p.batchN {
		return p.flush(ctx)
	}
	return true
}

// flush publishes the current batch, if any, to every sink, then tallies
// the results already in and publishes again, one by one, the records of
// batches nsqd rejected. It reports false if ctx ended while it waited for
// a window; the records it could not hand on then count as failed.
func (p *publisher) flush(ctx context.Context) bool {
	b := p.cur
	p.cur = nil
	if b != nil {
		for j := range p.sinks {
			if !p.publishTo(ctx, j, b) {
				for k := j; k < len(p.sinks); k++ {
					p.fail(k, b, errInterrupted)
				}
				return false
			}
		}
	}
	p.collect()
	return p.resplit(ctx)
}

// publishTo hands b to sink j, first collecting results while j's window
// (maxWindow publishes, maxWindowBytes bytes) is full. It reports false,
// having published nothing, if ctx ended while it waited.
func (p *publisher) publishTo(ctx context.Context, j int, b *batch) bool {
	for p.out[j] >= p.window || (p.out[j] > 0 && p.outB[j]+b.bytes > maxWindowBytes) {
		select {
		case t := <-p.done[j]:
			p.result(j, t)
		case <-ctx.Done():
			return false
		}
	}
	var err error
	if len(b.recs) == 1 {
		err = p.sinks[j].PublishAsync(p.topic, b.recs[0].body, p.done[j], b)
	} else {
		err = p.sinks[j].MultiPublishAsync(p.topic, b.bodies(), p.done[j], b)
	}
	if err != nil {
		p.fail(j, b, err)
		return true
	}
	p.out[j]++
	p.outR[j] += len(b.recs)
	p.outB[j] += b.bytes
	return true
}

// resplit publishes again, record by record, the batches nsqd rejected for
// their body. It reports false if ctx ended; what it could not publish
// then fails with nsqd's error.
func (p *publisher) resplit(ctx context.Context) bool {
	for len(p.split) > 0 {
		it := p.split[0]
		p.split = p.split[1:]
		for i, r := range it.b.recs {
			if ctx.Err() != nil || !p.publishTo(ctx, it.j, &batch{recs: []*record{r}, bytes: len(r.body)}) {
				p.fail(it.j, &batch{recs: it.b.recs[i:]}, it.err)
				for _, rest := range p.split {
					p.fail(rest.j, rest.b, rest.err)
				}
				p.split = nil
				return false
			}
		}
	}
	return true
}

// collect tallies every result that has already arrived, without waiting.
func (p *publisher) collect() {
	for j := range p.done {
		for p.out[j] > 0 {
			select {
			case t := <-p.done[j]:
				p.result(j, t)
				continue
			default:
			}
			break
		}
	}
}

// result tallies the result of a publish to sink j. A batch of several
// records that nsqd rejected for its body (one record too big for nsqd, or
// the batch over its --max-body-size) is set aside to be published again
// record by record, unless the sinks are stopped.
func (p *publisher) result(j int, t *nsqpub.ProducerTransaction) {
	b, _ := t.Args[0].(*batch)
	p.out[j]--
	p.outR[j] -= len(b.recs)
	p.outB[j] -= b.bytes
	if t.Error == nil {
		p.acked.Add(int64(len(b.recs)))
		return
	}
	var se *nsqpub.ServerError
	if len(b.recs) > 1 && !p.stopped && errors.As(t.Error, &se) && (se.Code == "E_BAD_MESSAGE" || se.Code == "E_BAD_BODY") {
		p.split = append(p.split, splitItem{j, b, t.Error})
		return
	}
	p.fail(j, b, t.Error)
}

// fail counts the failed publish of b's records to sink j, printing the
// first failure of each kind in full.
func (p *publisher) fail(j int, b *batch, err error) {
	p.failN(j, b.where(), len(b.recs), err)
}

// failN counts n failed record publishes to sink j, printing the first
// failure of each kind in full, with where they came from.
func (p *publisher) failN(j int, where string, n int, err error) {
	p.failed.Add(int64(n))
	k := errorKind(err)
	if p.kinds[k] == 0 {
		p.order = append(p.order, k)
		p.errw.printf("nsqpub: publishing %s to %s: %v (further %q failures are only counted)\n", where, p.names[j], err, k)
	}
	p.kinds[k] += n
}

// errorKind names the kind of a publish error for the summary: the
// library's sentinel errors by their text, nsqd's errors by their code.
func errorKind(err error) string {
	var se *nsqpub.ServerError
	name := func(e error) string { return strings.TrimPrefix(e.Error(), "nsqpub: ") }
	switch {
	case errors.Is(err, nsqpub.ErrNoHealthyNode):
		return name(nsqpub.ErrNoHealthyNode)
	case errors.Is(err, nsqpub.ErrNotConnected):
		return name(nsqpub.ErrNotConnected)
	case errors.Is(err, nsqpub.ErrUnknownOutcome):
		return name(nsqpub.ErrUnknownOutcome)
	case errors.As(err, &se):
		return "nsqd " + se.Code
	case errors.Is(err, nsqpub.ErrMessageTooLarge):
		return name(nsqpub.ErrMessageTooLarge)
	case errors.Is(err, nsqpub.ErrBatchTooLarge):
		return name(nsqpub.ErrBatchTooLarge)
	case errors.Is(err, nsqpub.ErrStopped):
		return name(nsqpub.ErrStopped)
	case errors.Is(err, nsqpub.ErrProtocol):
		return name(nsqpub.ErrProtocol)
	case errors.Is(err, errInterrupted):
		return name(errInterrupted)
	}
	return err.Error()
}

// busy returns a sink with a publish awaiting its result, or -1.
func (p *publisher) busy() int {
	for j, n := range p.out {
		if n > 0 {
			return j
		}
	}
	return -1
}

// finish collects the result of every publish still outstanding. Unless
// ctx has ended, it first lets each run its course, including the
// library's own resends after a lost connection (and the pool's on other
// nodes), however long nsqd takes to answer or the connection to be
// declared dead. Then, or as soon as ctx ends, it stops every sink at once:
// each writes what is queued and waits for nsqd's answers up to its
// StopTimeout, failing the rest. Results still missing resultGrace after
// that, which the library does not allow, count as failed.
func (p *publisher) finish(ctx context.Context) {
	for ctx.Err() == nil {
		if len(p.split) > 0 {
			p.resplit(ctx)
			continue
		}
		j := p.busy()
		if j < 0 {
			break
		}
		select {
		case t := <-p.done[j]:
			p.result(j, t)
		case <-ctx.Done():
		}
	}
	p.stopped = true
	for _, it := range p.split {
		p.fail(it.j, it.b, it.err)
	}
	p.split = nil
	var wg sync.WaitGroup
	for _, s := range p.sinks {
		wg.Go(s.Stop)
	}
	wg.Wait()
	grace := time.NewTimer(resultGrace)
	defer grace.Stop()
	for j := range p.sinks {
		for p.out[j] > 0 {
			select {
			case t := <-p.done[j]:
				p.result(j, t)
			case <-grace.C:
				for k := range p.out {
					if p.out[k] > 0 {
						p.failN(k, "records", p.outR[k], errors.New("no result after the producer stopped"))
						p.out[k], p.outR[k], p.outB[k] = 0, 0, 0
					}
				}
				return
			}
		}
	}
}

// summary prints the final line, such as
// "nsqpub: published 3 records to 2 nsqd (1 failed: 1 not connected)", or
// with --balance
// "nsqpub: published 3 records to 2 nsqd, balanced (127.0.0.1:4150: 2, 127.0.0.1:4152: 1)",
// where the balanced counts are the messages each nsqd acknowledged.
func (p *publisher) summary() {
	noun := "records"
	if p.records.Load() == 1 {
		noun = "record"
	}
	var b strings.Builder
	nodes := len(p.sinks)
	if p.pool != nil {
		nodes = len(p.pool.Stats().Nodes)
	}
	fmt.Fprintf(&b, "nsqpub: published %d %s to %d nsqd", p.records.Load(), noun, nodes)
	if p.pool != nil {
		var per []string
		for _, n := range p.pool.Stats().Nodes {
			per = append(per, fmt.Sprintf("%s: %d", n.Addr, n.Published))
		}
		fmt.Fprintf(&b, ", balanced (%s)", strings.Join(per, ", "))
	}
	if failed := p.failed.Load(); failed > 0 {
		parts := make([]string, len(p.order))
		for i, k := range p.order {
			parts[i] = fmt.Sprintf("%d %s", p.kinds[k], k)
		}
		fmt.Fprintf(&b, " (%d failed: %s)", failed, strings.Join(parts, "; "))
	}
	p.errw.printf("%s\n", b.String())
}

// ---------------------------------------------------------------------------
// Standard error and the progress line

// isTerminal reports whether w is a terminal (a character device), where
// the progress line is shown. A variable so that tests can pretend.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressEvery is how often the progress line is redrawn. A variable so
// that tests can speed it up.
var progressEvery = 250 * time.Millisecond

// errWriter is standard error, shared by the messages and the progress
// line: a message first clears the progress line, which the next tick
// redraws below it.
type errWriter struct {
	mu    sync.Mutex
	w     io.Writer
	shown bool // a progress line is on the screen
}

// printf writes a message on a line of its own.
func (e *errWriter) printf(format string, a ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clearLocked()
	fmt.Fprintf(e.w, format, a...)
}

// progress draws line in place of the previous progress line.
func (e *errWriter) progress(line string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.w, "\r%s\x1b[K", line)
	e.shown = true
}

// clear erases the progress line, if one is shown.
func (e *errWriter) clear() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clearLocked()
}

func (e *errWriter) clearLocked() {
	if e.shown {
		io.WriteString(e.w, "\r\x1b[K")
		e.shown = false
	}
}

// startProgress shows, when standard error is a terminal, a progress line
// redrawn every progressEvery: records read, their rate over about the
// last second, acknowledgements and failures. The returned function stops it
// and erases the line.
func (p *publisher) startProgress() (stop func()) {
	if !isTerminal(p.errw.w) {
		return func() {}
	}
	quit := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		// The rate is over the last second or so: samples[0] is the
		// newest sample at least a second old (or the start).
		type sample struct {
			at time.Time
			n  int64
		}
		samples := []sample{{time.Now(), 0}}
		for {
			select {
			case <-quit:
				return
			case now := <-tick.C:
				n := p.records.Load()
				samples = append(samples, sample{now, n})
				for len(samples) > 2 && now.Sub(samples[1].at) >= time.Second {
					samples = samples[1:]
				}
				base := samples[0]
				rate := float64(n-base.n) / now.Sub(base.at).Seconds()
				p.errw.progress(fmt.Sprintf("nsqpub: %d records, %.0f/s, %d acknowledged, %d errors",
					n, rate, p.acked.Load(), p.failed.Load()))
			}
		}
	}()
	return func() {
		close(quit)
		<-exited
		p.errw.clear()
	}
}
