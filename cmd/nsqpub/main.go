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
//	--delimiter C                 record delimiter: one byte, or an escape
//	                              such as \t, \0 or \x1e (default "\n")
//	--rate N                      publish at most N records per second
//	                              (0, the default, means no limit)
//	--producer-opt KEY,VALUE      library option passed to Config.Set, for
//	                              example max_msg_size,2097152 (repeatable;
//	                              a KEY alone sets a boolean option to true)
//	--version                     print the version and exit
//
// Records are published asynchronously, up to 1024 (and 64 MiB) awaiting
// nsqd's answer per nsqd. A record nsqd (or the library, for example one larger than
// max_msg_size) does not accept is counted and the next record is
// published. At the end nsqpub prints a summary such as
//
//	nsqpub: published 3 records to 2 nsqd (1 failed: 1 not connected)
//
// where the failures count publishes, so with several nsqd a record that
// fails on two of them counts twice. The first failure of each kind is also
// printed when it happens.
//
// With --rate N, record i is published no earlier than i/N seconds after
// the first; the schedule is computed from that instant, so it does not
// drift. If the input stalls past a record's slot, the schedule restarts
// from the moment the record arrives rather than catching up in a burst.
//
// At the end of the input nsqpub waits for nsqd's answer to every publish
// (the library resends what a lost connection left unsent) before it stops.
// SIGINT or SIGTERM stops reading, and bounds that wait by the stop_timeout
// option (5s by default); the summary is printed either way. A second
// signal kills the program at once.
//
// Exit status: 0 when every record was acknowledged by every nsqd; 1 when a
// publish failed or an input could not be read; 2 for a usage error.
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
	// pacerSlack is how late a record may arrive before the rate schedule
	// restarts from its arrival instead of catching up.
	pacerSlack = time.Millisecond
	// resultGrace bounds the wait for results after every Producer stopped.
	resultGrace = 5 * time.Second
)

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
		topic:  opts.topic,
		addrs:  opts.addrs,
		window: maxWindow,
		maxMsg: opts.cfg.MaxMsgSize,
		stderr: stderr,
		kinds:  map[string]int{},
	}
	if q := opts.cfg.MaxQueued; q > 0 && q < p.window {
		// Never more outstanding than the library queues: PublishAsync then
		// never blocks on a full queue.
		p.window = q
	}
	if p.maxMsg <= 0 {
		p.maxMsg = nsqpub.DefaultMaxMsgSize
	}
	for _, addr := range opts.addrs {
		prod, err := nsqpub.NewProducer(addr, opts.cfg)
		if err != nil {
			for _, q := range p.prods {
				q.Stop()
			}
			fmt.Fprintf(stderr, "nsqpub: %v\n", err)
			return 2
		}
		p.prods = append(p.prods, prod)
		p.done = append(p.done, make(chan *nsqpub.ProducerTransaction, p.window))
	}
	p.out = make([]int, len(p.prods))
	p.outB = make([]int, len(p.prods))
	return p.run(ctx, opts.inputs, stdin, opts.delim, opts.rate)
}

// options are the parsed command line.
type options struct {
	topic  string
	addrs  []string // deduplicated, in the order given
	delim  byte
	rate   int64
	cfg    *nsqpub.Config
	inputs []string // file names, "-" for stdin; empty means stdin
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
	fs.Var(&producerOpts{cfg: cfg}, "producer-opt", "library option as `key,value`, passed to Config.Set (repeatable)")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: nsqpub --topic=TOPIC --nsqd-tcp-address=HOST:PORT [flags] [FILE...]\n\n"+
			"Publishes every non-empty delimited record of FILEs (default: standard input;\n"+
			"\"-\" is standard input) to TOPIC on every nsqd given.\n\nFlags:\n")
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
	}
	delim, err := parseDelimiter(*delimiter)
	if err != nil {
		return usageError("%v", err)
	}
	if err := cfg.Validate(); err != nil {
		return usageError("%s", strings.TrimPrefix(err.Error(), "nsqpub: "))
	}
	opts := &options{topic: *topic, delim: delim, rate: *rate, cfg: cfg, inputs: fs.Args()}
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
			if len(recs) > 0 && !send(chunk{recs: recs}) {
				return false
			}
			if err != io.EOF {
				return send(chunk{err: fmt.Errorf("reading %s: %w", src, err)})
			}
			return true
		}
		if len(recs) > 0 && (len(recs) == cap(recs) || size >= chunkBytes || sp.br.Buffered() == 0) {
			if !send(chunk{recs: recs}) {
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

// next returns when the next record may be released, given that it is
// ready at now. The first record, or one that arrives more than pacerSlack
// after its slot, anchors a new schedule at now.
func (p *pacer) next(now time.Time) time.Time {
	if p.n == 0 || now.Sub(p.due(p.n)) > pacerSlack {
		p.anchor, p.base = now, p.n
	}
	t := p.due(p.n)
	p.n++
	return t
}

// wait blocks until the next record is due. It reports false if ctx ended
// first.
func (p *pacer) wait(ctx context.Context) bool {
	if p.rate <= 0 {
		return ctx.Err() == nil
	}
	d := time.Until(p.next(time.Now()))
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// publisher fans records out to one Producer per nsqd and tallies the
// results.
type publisher struct {
	topic  string
	addrs  []string
	prods  []*nsqpub.Producer
	done   []chan *nsqpub.ProducerTransaction // per nsqd, capacity window
	out    []int                              // per nsqd, publishes awaiting their result
	outB   []int                              // per nsqd, the bytes of those publishes
	window int
	maxMsg int
	stderr io.Writer

	records int            // records handed to the nsqds
	acked   int            // publishes nsqd acknowledged
	failed  int            // publishes that failed
	kinds   map[string]int // failed publishes by kind of error
	order   []string       // the kinds, in order of first occurrence
}

// run reads the inputs and publishes every record until the inputs end or
// ctx does, then collects every result (see finish), prints the summary and
// returns the exit status.
func (p *publisher) run(ctx context.Context, inputs []string, stdin io.Reader, delim byte, rate int64) int {
	chunks := make(chan chunk, 4)
	quit := make(chan struct{})
	go readInputs(inputs, stdin, delim, p.maxMsg, chunks, quit)
	pace := &pacer{rate: rate}
	inputErrs := 0
	interrupted := false
loop:
	for {
		var c chunk
		select {
		case <-ctx.Done():
			interrupted = true
			break loop
		case got, ok := <-chunks:
			if !ok {
				break loop
			}
			c = got
		}
		if c.err != nil {
			fmt.Fprintf(p.stderr, "nsqpub: %v\n", c.err)
			inputErrs++
		}
		for i := range c.recs {
			if !pace.wait(ctx) || !p.publish(ctx, &c.recs[i]) {
				interrupted = true
				break loop
			}
		}
	}
	close(quit)
	p.finish(ctx)
	if interrupted {
		fmt.Fprintf(p.stderr, "nsqpub: interrupted: stopped reading input\n")
	}
	p.summary()
	if p.failed > 0 || inputErrs > 0 {
		return 1
	}
	return 0
}

// publish hands r to every nsqd in order, first collecting results from an
// nsqd whose window (maxWindow publishes, maxWindowBytes bytes) is full. It
// reports false if ctx ended while it waited; the record then counts as
// failed on the nsqds it had not reached.
func (p *publisher) publish(ctx context.Context, r *record) bool {
	p.records++
	for j, prod := range p.prods {
		if r.size > p.maxMsg {
			p.fail(j, r, fmt.Errorf("%w: %d > %d", nsqpub.ErrMessageTooLarge, r.size, p.maxMsg))
			continue
		}
		for p.out[j] >= p.window || (p.out[j] > 0 && p.outB[j]+len(r.body) > maxWindowBytes) {
			select {
			case t := <-p.done[j]:
				p.result(j, t)
			case <-ctx.Done():
				for k := j; k < len(p.prods); k++ {
					p.fail(k, r, errInterrupted)
				}
				return false
			}
		}
		if err := prod.PublishAsync(p.topic, r.body, p.done[j], r); err != nil {
			p.fail(j, r, err)
			continue
		}
		p.out[j]++
		p.outB[j] += len(r.body)
	}
	p.collect()
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

// result tallies the result of a publish to nsqd j.
func (p *publisher) result(j int, t *nsqpub.ProducerTransaction) {
	var r *record
	if len(t.Args) > 0 {
		r, _ = t.Args[0].(*record)
	}
	p.out[j]--
	if r != nil {
		p.outB[j] -= len(r.body)
	}
	if t.Error == nil {
		p.acked++
		return
	}
	p.fail(j, r, t.Error)
}

// fail counts a failed publish of r (nil if unknown) to nsqd j, printing
// the first failure of each kind in full.
func (p *publisher) fail(j int, r *record, err error) {
	p.failed++
	k := errorKind(err)
	if p.kinds[k] == 0 {
		p.order = append(p.order, k)
		where := "a record"
		if r != nil {
			where = fmt.Sprintf("%s record %d", r.src, r.num)
		}
		fmt.Fprintf(p.stderr, "nsqpub: publishing %s to %s: %v (further %q failures are only counted)\n", where, p.addrs[j], err, k)
	}
	p.kinds[k]++
}

// errorKind names the kind of a publish error for the summary: the
// library's sentinel errors by their text, nsqd's errors by their code.
func errorKind(err error) string {
	var se *nsqpub.ServerError
	name := func(e error) string { return strings.TrimPrefix(e.Error(), "nsqpub: ") }
	switch {
	case errors.Is(err, nsqpub.ErrNotConnected):
		return name(nsqpub.ErrNotConnected)
	case errors.Is(err, nsqpub.ErrUnknownOutcome):
		return name(nsqpub.ErrUnknownOutcome)
	case errors.As(err, &se):
		return "nsqd " + se.Code
	case errors.Is(err, nsqpub.ErrMessageTooLarge):
		return name(nsqpub.ErrMessageTooLarge)
	case errors.Is(err, nsqpub.ErrStopped):
		return name(nsqpub.ErrStopped)
	case errors.Is(err, nsqpub.ErrProtocol):
		return name(nsqpub.ErrProtocol)
	case errors.Is(err, errInterrupted):
		return name(errInterrupted)
	}
	return err.Error()
}

// finish collects the result of every publish still outstanding. Unless
// ctx has ended, it first lets each run its course, including the
// library's own resends after a lost connection, however long nsqd takes
// to answer or the connection to be declared dead. Then, or as soon as ctx
// ends, it stops every Producer at once: each writes what is queued and
// waits for nsqd's answers up to its StopTimeout, failing the rest. Results
// still missing resultGrace after that, which the library does not allow,
// count as failed.
func (p *publisher) finish(ctx context.Context) {
wait:
	for j := range p.prods {
		for p.out[j] > 0 {
			select {
			case t := <-p.done[j]:
				p.result(j, t)
			case <-ctx.Done():
				break wait
			}
		}
	}
	var wg sync.WaitGroup
	for _, prod := range p.prods {
		wg.Go(prod.Stop)
	}
	wg.Wait()
	grace := time.NewTimer(resultGrace)
	defer grace.Stop()
	for j := range p.prods {
		for p.out[j] > 0 {
			select {
			case t := <-p.done[j]:
				p.result(j, t)
			case <-grace.C:
				for k := range p.out {
					for ; p.out[k] > 0; p.out[k]-- {
						p.fail(k, nil, errors.New("no result after the producer stopped"))
					}
				}
				return
			}
		}
	}
}

// summary prints the final line, such as
// "nsqpub: published 3 records to 2 nsqd (1 failed: 1 not connected)".
func (p *publisher) summary() {
	noun := "records"
	if p.records == 1 {
		noun = "record"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "nsqpub: published %d %s to %d nsqd", p.records, noun, len(p.prods))
	if p.failed > 0 {
		parts := make([]string, len(p.order))
		for i, k := range p.order {
			parts[i] = fmt.Sprintf("%d %s", p.kinds[k], k)
		}
		fmt.Fprintf(&b, " (%d failed: %s)", p.failed, strings.Join(parts, "; "))
	}
	fmt.Fprintln(p.stderr, b.String())
}
