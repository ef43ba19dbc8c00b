package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/nsqpub/nsqpub"
)

// maxRate is the largest --rate that limits anything; the schedule
// arithmetic cannot overflow below it.
const maxRate = 1_000_000_000

// options are the parsed command line.
type options struct {
	topic   string
	addrs   []string // deduplicated, in the order given
	delim   byte
	rate    int64
	balance bool // spread the records over the nsqd with a ProducerPool
	// lookupds are nsqlookupd HTTP addresses whose nodes the pool publishes
	// to, as with balance; deduplicated.
	lookupds []string
	cfg      *nsqpub.Config
	inputs   []string // file names, "-" for stdin; empty means stdin
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

// usage is the text -h prints before the flags.
const usage = `Usage: nsqpub --topic=TOPIC --nsqd-tcp-address=HOST:PORT [flags] [FILE...]

Publishes every non-empty delimited record of FILEs (default: standard input;
"-" is standard input) to TOPIC on every nsqd given, or with --balance on one
of them. With --lookupd-http-address, the nsqd are those nsqlookupd lists
(and any given), and each record goes to one of them, as with --balance.

Flags:
`

// parseFlags parses args. It returns the options, or nil and the exit
// status when the command is already done, with the error reported on
// stderr. The statuses are to_nsq's: 0 after --version or -h; 2 when the
// flag package refuses a flag (an unknown flag, a malformed value, a
// --producer-opt that Config.Set refuses); 1 for every other usage error
// (a missing or invalid --topic or --nsqd-tcp-address, a bad --delimiter,
// a Config that fails Validate), where to_nsq calls log.Fatal.
func parseFlags(args []string, stdout, stderr io.Writer) (*options, int) {
	fs := flag.NewFlagSet("nsqpub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := nsqpub.NewConfig()
	// The library may queue as many publishes as the window holds, unless
	// --producer-opt says otherwise (the window then shrinks to match).
	cfg.MaxQueued = maxWindow
	var addrs stringList
	var strategy string
	topic := fs.String("topic", "", "NSQ `topic` to publish to (required)")
	fs.Var(&addrs, "nsqd-tcp-address", "nsqd TCP `address` host:port (required, repeatable; every record goes to every nsqd)")
	delimiter := fs.String("delimiter", "\n", "record delimiter: one byte, or an escape such as \\t, \\0 or \\x1e")
	rate := fs.Int64("rate", 0, "publish at most `N` records per second (0 or less = no limit)")
	var lookupds stringList
	fs.Var(&lookupds, "lookupd-http-address", "nsqlookupd HTTP `address` (repeatable): publish over the nsqd it lists, as --balance does")
	balance := fs.Bool("balance", false, "spread the records over the nsqd (each record to one) instead of sending every record to every nsqd")
	fs.Func("balance-strategy", "with --balance: `round-robin` (default) or failover (the first healthy nsqd, in the order given)", func(s string) error {
		strategy = s
		if cfg.Set("pool_strategy", s) != nil {
			return errors.New("want round-robin or failover")
		}
		return nil
	})
	fs.Var(&nsqpub.ConfigFlag{Config: cfg}, "producer-opt", "library option as `key,value`, passed to Config.Set (repeatable)")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		io.WriteString(stderr, usage)
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
		return nil, 1
	}
	switch {
	case *topic == "":
		return usageError("--topic is required")
	case !nsqpub.IsValidTopicName(*topic):
		return usageError("invalid --topic %q: want 1-64 characters of [.a-zA-Z0-9_-], optionally ending in #ephemeral", *topic)
	case len(addrs) == 0 && len(lookupds) == 0:
		return usageError("--nsqd-tcp-address or --lookupd-http-address is required")
	case strategy != "" && !*balance && len(lookupds) == 0:
		return usageError("--balance-strategy needs --balance")
	}
	// As with to_nsq, a --rate below 1 means no limit; so does one beyond
	// maxRate, which no command could keep up with anyway.
	if *rate < 1 || *rate > maxRate {
		*rate = 0
	}
	delim, err := parseDelimiter(*delimiter)
	if err != nil {
		return usageError("%v", err)
	}
	if err := cfg.Validate(); err != nil {
		return usageError("%v", err)
	}
	opts := &options{topic: *topic, delim: delim, rate: *rate, balance: *balance, cfg: cfg, inputs: fs.Args()}
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
	for _, a := range lookupds {
		if a == "" {
			return usageError("empty --lookupd-http-address")
		}
		if !slices.Contains(opts.lookupds, a) {
			opts.lookupds = append(opts.lookupds, a)
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
