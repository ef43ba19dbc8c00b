package e2e

// End-to-end tests of the nsqpub command: the binary, built from
// cmd/nsqpub, run as a separate process against real nsqd v1.3.0.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cmdTimeout bounds one run of the command (a hang is a failure).
const cmdTimeout = 60 * time.Second

// cmdRun is what one run of the command did.
type cmdRun struct {
	code    int
	stdout  string
	stderr  string
	elapsed time.Duration // from start to exit
}

// buildNSQPub builds the command into dir and returns its path.
func buildNSQPub(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "nsqpub")
	build := exec.Command("go", "build", "-o", bin, "github.com/nsqpub/nsqpub/cmd/nsqpub")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/nsqpub: %v\n%s", err, out)
	}
	return bin
}

// runNSQPub runs the command bin (nsqpub, or to_nsq for comparison) with
// stdin (nil: none) and args.
func runNSQPub(t *testing.T, bin string, stdin io.Reader, args ...string) cmdRun {
	t.Helper()
	_, wait := startNSQPub(t, bin, stdin, args...)
	return wait()
}

// startNSQPub starts the command bin with stdin (nil: none) and args, and
// returns the process and a function that waits (at most cmdTimeout from
// the start) for it to exit.
func startNSQPub(t *testing.T, bin string, stdin io.Reader, args ...string) (*os.Process, func() cmdRun) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	t.Cleanup(cancel) // kills the process if the test ends before waiting
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	name := filepath.Base(bin)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	return cmd.Process, func() cmdRun {
		t.Helper()
		err := cmd.Wait()
		res := cmdRun{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
		var exit *exec.ExitError
		switch {
		case ctx.Err() != nil:
			t.Fatalf("%s %q did not exit within %v; stderr:\n%s", name, args, cmdTimeout, res.stderr)
		case errors.As(err, &exit):
			res.code = exit.ExitCode()
		case err != nil:
			t.Fatalf("running %s: %v", name, err)
		}
		t.Logf("%s %s: exit %d in %v, stderr:\n%s", name, strings.Join(args, " "), res.code, res.elapsed.Round(time.Millisecond), res.stderr)
		return res
	}
}

// wantOK fails unless the run exited 0 with just the summary on stderr.
func wantOK(t *testing.T, res cmdRun, summary string) {
	t.Helper()
	if res.code != 0 || res.stderr != summary+"\n" {
		t.Fatalf("exit %d, stderr %q; want 0 and %q", res.code, res.stderr, summary)
	}
}

// TestCmd runs the nsqpub binary against real nsqd: input from stdin and
// files, delimiters, a final record without its delimiter, --balance,
// max_body_size, --rate accuracy, the exit statuses, bad records among
// good ones, and SIGINT with input unread.
func TestCmd(t *testing.T) {
	bin := buildNSQPub(t, t.TempDir())

	t.Run("stdin", func(t *testing.T) {
		n := startNSQD(t)
		topic := topicName(t)
		n.CreateChannel(t, topic, "ch")
		var want []string
		var in strings.Builder
		for i := range 500 {
			want = append(want, fmt.Sprintf(`{"seq":%d}`, i))
			in.WriteString(want[i] + "\n")
		}
		res := runNSQPub(t, bin, strings.NewReader(in.String()), "--topic", topic, "--nsqd-tcp-address", n.TCPAddr)
		wantOK(t, res, "nsqpub: published 500 records to 1 nsqd")
		if strings.Contains(res.stderr, "\r") {
			t.Errorf("a progress line on a pipe: %q", res.stderr)
		}
		checkBodies(t, consume(t, n, topic, "ch", len(want)), want)
	})

	t.Run("files and delimiter", func(t *testing.T) {
		n := startNSQD(t)
		topic := topicName(t)
		n.CreateChannel(t, topic, "ch")
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		// Commas delimit; newlines, tabs and spaces are data. Both files
		// end without a delimiter, the second in a multi-byte character.
		if err := os.WriteFile(a, []byte("a 1,a\n2,,a\t3"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(b, []byte("b1,b2 ends in é"), 0o644); err != nil {
			t.Fatal(err)
		}
		res := runNSQPub(t, bin, strings.NewReader("s1,s2,"), "--topic", topic, "--nsqd-tcp-address", n.TCPAddr,
			"--delimiter", ",", a, "-", b)
		wantOK(t, res, "nsqpub: published 7 records to 1 nsqd")
		checkBodies(t, consume(t, n, topic, "ch", 7), []string{"a 1", "a\n2", "a\t3", "s1", "s2", "b1", "b2 ends in é"})
	})

	t.Run("escaped delimiter and final record intact", func(t *testing.T) {
		n := startNSQD(t)
		topic := topicName(t)
		n.CreateChannel(t, topic, "ch")
		last := strings.Repeat("z", 100<<10) + "!" // longer than the read buffer, no delimiter
		res := runNSQPub(t, bin, strings.NewReader("one\x1etwo\x1e\x1e"+last), "--topic", topic, "--nsqd-tcp-address", n.TCPAddr,
			"--delimiter", `\x1e`)
		wantOK(t, res, "nsqpub: published 3 records to 1 nsqd")
		checkBodies(t, consume(t, n, topic, "ch", 3), []string{"one", "two", last})
	})

	t.Run("fan-out", func(t *testing.T) {
		nodes := startPoolNodes(t, 2)
		topic := topicName(t)
		_, in := cmdRecords("f", 300)
		res := runNSQPub(t, bin, strings.NewReader(in), "--topic", topic,
			"--nsqd-tcp-address", nodes[0].TCPAddr, "--nsqd-tcp-address", nodes[1].TCPAddr)
		wantOK(t, res, "nsqpub: published 300 records to 2 nsqd")
		for _, n := range nodes {
			waitMessageCount(t, n, topic, 300) // every record on every nsqd
		}
	})

	t.Run("balance", func(t *testing.T) {
		nodes := startPoolNodes(t, 3)
		topic := topicName(t)
		for _, n := range nodes {
			n.CreateChannel(t, topic, "ch")
		}
		const total = 3000
		want, in := cmdRecords("bal", total)
		args := []string{"--topic", topic, "--balance"}
		for _, n := range nodes {
			args = append(args, "--nsqd-tcp-address", n.TCPAddr)
		}
		res := runNSQPub(t, bin, strings.NewReader(in), args...)
		var per []string
		var got [][]byte
		var spread []string
		for _, n := range nodes {
			count := n.Stats(t, topic).MessageCount
			per = append(per, fmt.Sprintf("%s: %d", n.TCPAddr, count))
			spread = append(spread, fmt.Sprintf("%.1f%%", 100*float64(count)/total))
			if dev := float64(count)/(total/3) - 1; dev < -0.10 || dev > 0.10 {
				t.Errorf("nsqd %s got %d of %d records, more than 10%% off a third", n.TCPAddr, count, total)
			}
			got = append(got, consume(t, n, topic, "ch", int(count))...)
		}
		// The summary's counts are nsqd's.
		wantOK(t, res, fmt.Sprintf("nsqpub: published %d records to 3 nsqd, balanced (%s)", total, strings.Join(per, ", ")))
		checkBodies(t, got, want)
		t.Logf("RESULT cmd --balance: %d records over 3 nsqd: %s", total, strings.Join(spread, " / "))
	})

	t.Run("balance with a dead nsqd", func(t *testing.T) {
		nodes := startPoolNodes(t, 2)
		nodes[0].Kill()
		topic := topicName(t)
		_, in := cmdRecords("dead", 200)
		res := runNSQPub(t, bin, strings.NewReader(in), "--topic", topic, "--balance",
			"--nsqd-tcp-address", nodes[0].TCPAddr, "--nsqd-tcp-address", nodes[1].TCPAddr)
		wantOK(t, res, fmt.Sprintf("nsqpub: published 200 records to 2 nsqd, balanced (%s: 0, %s: 200)", nodes[0].TCPAddr, nodes[1].TCPAddr))
		waitMessageCount(t, nodes[1], topic, 200)
	})

	t.Run("max body size", func(t *testing.T) {
		// nsqd's --max-body-size of 2000 takes 19 records of 100 bytes per
		// MPUB (4 + 19×104 = 1980); told so, the library merges the records
		// that wait together into MPUBs that fit, and nsqd never refuses a
		// body.
		n := startNSQD(t, "--max-body-size=2000")
		topic := topicName(t)
		n.CreateChannel(t, topic, "ch")
		var want []string
		for i := range 1050 {
			want = append(want, fmt.Sprintf("%0100d", i))
		}
		res := runNSQPub(t, bin, strings.NewReader(strings.Join(want, "\n")), "--topic", topic, "--nsqd-tcp-address", n.TCPAddr,
			"--producer-opt", "max_body_size,2000")
		wantOK(t, res, "nsqpub: published 1050 records to 1 nsqd")
		checkBodies(t, consume(t, n, topic, "ch", len(want)), want)
		// nsqd logs every refusal (as "E_BAD_BODY MPUB body too big").
		if strings.Contains(n.Output(), "E_BAD_BODY") {
			t.Fatalf("nsqd refused a body:\n%s", n.Output())
		}
	})

	t.Run("rate", func(t *testing.T) {
		// --rate 200 for 1000 records: record 999 is due 4.995 s after the
		// first, so the run takes 5 s; ±5% is allowed, for the run and for
		// the span of nsqd's timestamps, and every whole second in between
		// holds 200 ± 10% of them.
		const rate, total = 200, 1000
		for _, tc := range []struct {
			name  string
			nodes int
			extra []string
		}{
			{"plain", 1, nil},
			{"balance", 2, []string{"--balance"}},
		} {
			// One after the other: timing is what is measured.
			t.Run(tc.name, func(t *testing.T) {
				nodes := startPoolNodes(t, tc.nodes)
				topic := topicName(t)
				args := []string{"--topic", topic, "--rate", fmt.Sprint(rate)}
				for _, n := range nodes {
					n.CreateChannel(t, topic, "ch")
					args = append(args, "--nsqd-tcp-address", n.TCPAddr)
				}
				_, in := cmdRecords("rate", total)
				res := runNSQPub(t, bin, strings.NewReader(in), append(args, tc.extra...)...)
				if res.code != 0 {
					t.Fatalf("exit %d", res.code)
				}
				var stamps []time.Time
				for _, n := range nodes {
					count := n.Stats(t, topic).MessageCount
					for _, m := range consumeTimed(t, n, topic, "ch", int(count)) {
						stamps = append(stamps, m.Timestamp)
					}
				}
				if len(stamps) != total {
					t.Fatalf("nsqd hold %d messages, want %d", len(stamps), total)
				}
				slices.SortFunc(stamps, func(a, b time.Time) int { return a.Compare(b) })
				span := stamps[total-1].Sub(stamps[0])
				const want = 5 * time.Second
				within := func(d time.Duration) bool { return d >= want*95/100 && d <= want*105/100 }
				if !within(res.elapsed) {
					t.Errorf("the run took %v, want %v ± 5%%", res.elapsed, want)
				}
				if !within(span) {
					t.Errorf("nsqd's timestamps span %v, want %v ± 5%%", span, want)
				}
				// Seconds 2 to 4 are held to the rate. The first second may
				// hold more: the first publish also connects, and the records
				// that fell due meanwhile go out at once (the pacer keeps its
				// schedule rather than drifting).
				var perSecond []int
				for s := 1; s <= 4; s++ {
					from, to := stamps[0].Add(time.Duration(s-1)*time.Second), stamps[0].Add(time.Duration(s)*time.Second)
					k := 0
					for _, ts := range stamps {
						if !ts.Before(from) && ts.Before(to) {
							k++
						}
					}
					perSecond = append(perSecond, k)
					if s > 1 && (k < rate*90/100 || k > rate*110/100) {
						t.Errorf("second %d holds %d messages, want %d ± 10%%", s, k, rate)
					}
				}
				t.Logf("RESULT cmd --rate %d %s: %d records, run %v (%+.2f%%), nsqd timestamps span %v (%+.2f%%), per second %v",
					rate, strings.Join(tc.extra, " "), total, res.elapsed.Round(time.Millisecond),
					100*(res.elapsed.Seconds()/want.Seconds()-1), span.Round(time.Millisecond),
					100*(span.Seconds()/want.Seconds()-1), perSecond)
				if !within(res.elapsed) || !within(span) {
					t.Logf("load average at the end: %s", loadAverage())
				}
			})
		}
	})

	t.Run("exit codes", func(t *testing.T) {
		// nsqd takes at most 100 bytes; nsqpub's max_msg_size stays at its
		// 1 MiB default, so nsqd is the one to refuse the big record.
		n := startNSQD(t, "--max-msg-size=100")
		topic := topicName(t)
		n.CreateChannel(t, topic, "ch")
		big := strings.Repeat("x", 101)

		res := runNSQPub(t, bin, strings.NewReader("ok\n"), "--topic", topic, "--nsqd-tcp-address", n.TCPAddr)
		wantOK(t, res, "nsqpub: published 1 record to 1 nsqd")

		// The refused record among a few records, then among many that
		// the library writes together: either way it fails alone.
		many, manyIn := cmdRecords("m", 300)
		want := []string{"ok"}
		for _, tc := range []struct {
			input string
			n     int // records in input, the refused one included
			want  []string
		}{
			{"a\n" + big + "\nb\n", 3, []string{"a", "b"}},
			{manyIn + big + "\n" + manyIn, 601, append(slices.Clone(many), many...)},
		} {
			res = runNSQPub(t, bin, strings.NewReader(tc.input), "--topic", topic, "--nsqd-tcp-address", n.TCPAddr)
			summary := fmt.Sprintf("nsqpub: published %d records to 1 nsqd; failed: 1 rejected (first: stdin record %d to %s: nsqd: E_BAD_MESSAGE ",
				tc.n-1, tc.n/2+1, n.TCPAddr)
			if res.code != 1 || !strings.HasPrefix(lastLine(res.stderr), summary) {
				t.Errorf("with a record nsqd refuses among %d: exit %d, stderr %.2000q; want 1 and a summary starting %q", tc.n, res.code, res.stderr, summary)
			}
			want = append(want, tc.want...)
		}
		// Only the refused record is missing.
		checkBodies(t, consume(t, n, topic, "ch", len(want)), want)

		res = runNSQPub(t, bin, strings.NewReader("x\n"), "--topic", topic, "--nsqd-tcp-address", "127.0.0.1:1")
		unreachable := "nsqpub: published 0 records to 1 nsqd; failed: 1 not sent (first: stdin record 1 to 127.0.0.1:1: not connected"
		if res.code != 1 || !strings.HasPrefix(lastLine(res.stderr), unreachable) {
			t.Errorf("with nsqd unreachable: exit %d, stderr %q; want 1 and a summary starting %q", res.code, res.stderr, unreachable)
		}
		// Usage errors exit 1, flags the flag package refuses 2, as with
		// to_nsq (TestCmdMatchesToNSQ compares more of them).
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"--nsqd-tcp-address", n.TCPAddr}, 1, "Run 'nsqpub -h' for usage."},                                                     // no --topic
			{[]string{"--topic", topic, "--nsqd-tcp-address", n.TCPAddr, "--balance-strategy", "failover"}, 1, "Run 'nsqpub -h' for usage."}, // without --balance
			{[]string{"--topic", topic, "--nsqd-tcp-address", n.TCPAddr, "--rate", "fast"}, 2, "Usage: nsqpub"},                              // malformed --rate
		} {
			res = runNSQPub(t, bin, strings.NewReader("never read\n"), tc.args...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("usage error %q: exit %d, stderr %q; want %d and %q", tc.args, res.code, res.stderr, tc.code, tc.want)
			}
		}
		if s := n.Stats(t, topic); s.MessageCount != int64(len(want)) {
			t.Errorf("message_count %d, want %d: a usage error published something", s.MessageCount, len(want))
		}
	})

	t.Run("bad records cost only themselves", func(t *testing.T) {
		// 5,000 records, 2% of them (every 50th) over nsqd's
		// --max-msg-size=1000, which nsqpub is not told: every good record
		// reaches nsqd, on both nsqd or with --balance on one, and exactly
		// the bad ones are reported, as rejected.
		const total, every, limit = 5000, 50, 1000
		bad := func(i int) bool { return i%every == every/2 }
		// nsqd logs each refusal twice, once in this form.
		refusal := regexp.MustCompile(`client\([^)]*\) - E_BAD_MESSAGE `)
		var good []string
		var in strings.Builder
		for i := range total {
			size := 6 + i*7919%(limit-5) // 6 to 1000 bytes
			if bad(i) {
				size = limit + 1 + i*7919%(4*limit)
			}
			rec := fmt.Sprintf("%05d:%s", i, strings.Repeat("x", size-6))
			if !bad(i) {
				good = append(good, rec)
			}
			in.WriteString(rec + "\n")
		}
		for _, tc := range []struct {
			name    string
			balance bool
		}{
			{"fan-out", false},
			{"balance", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				nodes := startPoolNodes(t, 2, fmt.Sprintf("--max-msg-size=%d", limit))
				topic := topicName(t)
				args := []string{"--topic", topic}
				if tc.balance {
					args = append(args, "--balance")
				}
				for _, n := range nodes {
					n.CreateChannel(t, topic, "ch")
					args = append(args, "--nsqd-tcp-address", n.TCPAddr)
				}
				res := runNSQPub(t, bin, strings.NewReader(in.String()), args...)
				var per []string
				var got [][]byte
				var sum int64
				refusals := 0
				for _, n := range nodes {
					count := n.Stats(t, topic).MessageCount
					if !tc.balance && count != int64(len(good)) {
						t.Errorf("nsqd %s: message_count %d, want %d", n.TCPAddr, count, len(good))
					}
					sum += count
					per = append(per, fmt.Sprintf("%s: %d", n.TCPAddr, count))
					got = append(got, consume(t, n, topic, "ch", int(count))...)
					refusals += len(refusal.FindAllStringIndex(n.Output(), -1))
				}
				// Without --balance a record is published once both nsqd hold it.
				want, published, failed, mode := slices.Concat(good, good), int64(len(good)), 2*(total-len(good)), ""
				to := regexp.QuoteMeta(nodes[0].TCPAddr) + "|" + regexp.QuoteMeta(nodes[1].TCPAddr)
				if tc.balance {
					want, published, failed = good, sum, total-len(good)
					mode = ", balanced (" + strings.Join(per, ", ") + ")"
					to = regexp.QuoteMeta("the nsqd pool " + nodes[0].TCPAddr + "," + nodes[1].TCPAddr)
				}
				// The summary counts what nsqd counts; the first failure is a bad
				// record, and rejected is the only outcome (one message, then the
				// summary).
				summary := regexp.MustCompile(fmt.Sprintf(`^nsqpub: published %d records to 2 nsqd%s; failed: %d rejected \(first: stdin record (\d+) to (%s): .+\)$`,
					published, regexp.QuoteMeta(mode), failed, to))
				first := 0 // the record named by the summary
				if m := summary.FindStringSubmatch(lastLine(res.stderr)); m != nil {
					first, _ = strconv.Atoi(m[1])
				}
				if res.code != 1 || !bad(first-1) || strings.Count(res.stderr, "\n") != 2 {
					t.Errorf("exit %d, stderr %q; want 1, one message and a summary matching %s with a bad record", res.code, res.stderr, summary)
				}
				checkBodies(t, got, want)
				t.Logf("RESULT cmd bad records %s: %d of %d records over --max-msg-size, %d failed publishes, %d published; nsqd refused %d times",
					tc.name, total-len(good), total, failed, published, refusals)
			})
		}
	})

	t.Run("interrupt", func(t *testing.T) {
		// SIGINT while --rate paces the records, with most of the input
		// unread: nsqpub stops reading, waits for nsqd's answers to what it
		// published, says how far it read, and exits 1.
		n := startNSQD(t)
		topic := topicName(t)
		n.CreateChannel(t, topic, "ch")
		const total = 1000
		_, in := cmdRecords("int", total)
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		// The input fits the pipe's buffer, and the pipe stays open: more
		// input may come.
		defer pw.Close()
		if _, err := pw.WriteString(in); err != nil {
			t.Fatal(err)
		}
		proc, wait := startNSQPub(t, bin, pr, "--topic", topic, "--nsqd-tcp-address", n.TCPAddr, "--rate", "10")
		pr.Close()
		consume(t, n, topic, "ch", 1) // a record has reached nsqd: nsqpub is publishing
		if err := proc.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		res := wait()
		count := n.Stats(t, topic).MessageCount
		summary := regexp.MustCompile(`^nsqpub: published (\d+) records? to 1 nsqd; interrupted: (\d+) records? read, input left unread\n$`)
		m := summary.FindStringSubmatch(res.stderr)
		if res.code != 1 || m == nil || m[1] != fmt.Sprint(count) || m[2] != m[1] || count >= total {
			t.Errorf("exit %d, stderr %q, nsqd holds %d messages; want 1 and a summary matching %s with nsqd's count, below %d, read and published",
				res.code, res.stderr, count, summary, total)
		}
	})
}

// cmdRecords returns n records "prefix-i" and the input of them on lines.
func cmdRecords(prefix string, n int) ([]string, string) {
	recs := make([]string, n)
	for i := range recs {
		recs[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return recs, strings.Join(recs, "\n") + "\n"
}

// lastLine returns the last line of s, without its newline.
func lastLine(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return s[strings.LastIndex(s, "\n")+1:]
}

// loadAverage returns the system's load averages where /proc has them, for
// the log of a timing failure.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// toNSQCase is one command line run through both to_nsq and nsqpub. In
// args, {topic} and {addr} stand for the run's own topic and the nsqd's
// TCP address.
type toNSQCase struct {
	name  string
	args  []string
	stdin string
	code  int      // to_nsq's exit status, which nsqpub must match
	sent  []string // with code 0: the messages nsqd must hold from each
	// A deliberate difference: nsqpub exits with nsqpubCode instead, for
	// the reason why (which the README gives).
	nsqpubCode int
	why        string
}

// toNSQCases are the command lines compared: good input, option names and
// values go-nsq's Config.Set takes (or refuses), usage errors, and failures.
var toNSQCases = func() []toNSQCase {
	abc := []string{"a", "b", "c"}
	in := "a\nb\nc\n"
	base := []string{"--topic", "{topic}", "--nsqd-tcp-address", "{addr}"}
	with := func(extra ...string) []string { return append(slices.Clone(base), extra...) }
	opt := func(o string) []string { return with("--producer-opt", o) }
	cases := []toNSQCase{
		{name: "plain", args: base, stdin: in, sent: abc},
		{name: "single dash and =", args: []string{"-topic={topic}", "-nsqd-tcp-address={addr}"}, stdin: in, sent: abc},
		{name: "address twice", args: with("--nsqd-tcp-address", "{addr}"), stdin: in, sent: abc},
		{name: "empty records", args: base, stdin: "\na\n\n\nb\nc\n", sent: abc},
		{name: "delimiter", args: with("--delimiter", ","), stdin: "a,b,c,", sent: abc},
		{name: "no input", args: base},
		{name: "rate 0", args: with("--rate", "0"), stdin: in, sent: abc},
		{name: "rate -1", args: with("--rate", "-1"), stdin: in, sent: abc},
		{name: "rate 1000", args: with("--rate", "1000"), stdin: in, sent: abc},
		{name: "help", args: []string{"-h"}},

		// Usage errors: to_nsq's log.Fatal exits 1.
		{name: "no topic", args: []string{"--nsqd-tcp-address", "{addr}"}, stdin: in, code: 1},
		{name: "no address", args: []string{"--topic", "{topic}"}, stdin: in, code: 1},
		{name: "empty delimiter", args: with("--delimiter", ""), stdin: in, code: 1},
		{name: "two-byte delimiter", args: with("--delimiter", "ab"), stdin: in, code: 1},
		{name: "invalid topic", args: []string{"--topic", "bad:topic", "--nsqd-tcp-address", "{addr}"}, stdin: in, code: 1},
		{name: "empty address", args: []string{"--topic", "{topic}", "--nsqd-tcp-address", ""}, stdin: in, code: 1},

		// The flag package refuses: exit 2.
		{name: "unknown flag", args: with("--bogus"), stdin: in, code: 2},
		{name: "malformed rate", args: with("--rate", "fast"), stdin: in, code: 2},

		// Failures while publishing: exit 1.
		{name: "nsqd unreachable", args: []string{"--topic", "{topic}", "--nsqd-tcp-address", "127.0.0.1:1"}, stdin: in, code: 1},
		{name: "record nsqd refuses", args: base, stdin: "a\n" + strings.Repeat("x", 101) + "\n", code: 1},

		// Deliberate differences.
		{name: "file argument", args: with("no-such-file"), stdin: in, sent: abc, nsqpubCode: 1,
			why: "nsqpub reads FILE arguments (this one is missing); to_nsq ignores them and reads stdin"},
		{name: "escaped delimiter", args: with("--delimiter", `\t`), stdin: "a\tb\tc\t", code: 1, nsqpubCode: 0,
			why: `nsqpub also takes an escape such as \t for the delimiter byte`},
		{name: "version", args: []string{"--version"}, code: 2, nsqpubCode: 0, why: "--version is nsqpub's own flag"},
		{name: "balance", args: with("--balance"), stdin: in, code: 2, nsqpubCode: 0, why: "--balance is nsqpub's own flag"},
		{name: "nsqpub option", args: opt("max_msg_size,2000"), stdin: in, code: 2, nsqpubCode: 0,
			why: "max_msg_size is one of nsqpub's own options"},
		{name: "invalid topic, no input", args: []string{"--topic", "bad:topic", "--nsqd-tcp-address", "{addr}"}, nsqpubCode: 1,
			why: "nsqpub checks --topic before reading; to_nsq only fails on publishing a record"},
		{name: "empty address, no input", args: []string{"--topic", "{topic}", "--nsqd-tcp-address", ""}, nsqpubCode: 1,
			why: "nsqpub checks --nsqd-tcp-address before reading; to_nsq only fails on publishing a record"},
	}
	// --producer-opt goes to Config.Set as go-nsq's ConfigFlag passes it:
	// options to_nsq takes publish as usual, whatever they mean to a
	// consumer; what Set refuses exits 2, what Validate refuses 1.
	for _, o := range []string{
		"dial_timeout,2s", "read_timeout,30s", "write_timeout,2s", "local_addr,127.0.0.1:0",
		"client_id,cmd-test", "hostname,cmd-test.example", "user_agent,cmd test/1.0",
		"heartbeat_interval,5s", "deflate", "deflate,true", "deflate_level,9", "snappy",
		"tls_v1", "tls_insecure_skip_verify", "tls_min_version,tls1.2", "tls_min_version,ssl3.0",
		"lookupd_poll_interval,5s", "lookupd_poll_jitter,0.5", "lookupd_poll_timeout,1s",
		"skip_lookupd_authorization,true", "skip_lookupd_authorization,false",
		"max_requeue_delay,1m", "default_requeue_delay,0", "backoff_strategy,full_jitter",
		"max_backoff_duration,50ms", "backoff_multiplier,2s", "max_attempts,3",
		"low_rdy_idle_timeout,5s", "low_rdy_timeout,5s", "rdy_redistribute_interval,1s",
		"sample_rate,10", "output_buffer_size,1024", "output_buffer_timeout,100ms",
		"max_in_flight,10", "msg_timeout,5s",
	} {
		cases = append(cases, toNSQCase{name: "option " + o, args: opt(o), stdin: in, sent: abc})
	}
	for _, o := range []string{
		"no_such_option,1", "dial_timeout,abc", "deflate,maybe", "read_timeout,10ms", "deflate_level,10",
		"tls_min_version,tls9", "tls_root_ca_file,/no/such/ca.pem", "lookupd_poll_jitter,2",
		"backoff_strategy,linear", "max_in_flight,-1", "sample_rate,100",
	} {
		cases = append(cases, toNSQCase{name: "option " + o, args: opt(o), stdin: in, code: 2})
	}
	for _, o := range []string{
		"heartbeat_interval,2m",   // Validate: longer than read_timeout
		"heartbeat_interval,10ms", // nsqd refuses the IDENTIFY
	} {
		cases = append(cases, toNSQCase{name: "option " + o, args: opt(o), stdin: in, code: 1})
	}
	for i := range cases {
		if cases[i].why == "" {
			cases[i].nsqpubCode = cases[i].code
		}
	}
	return cases
}()

// TestCmdMatchesToNSQ runs each of toNSQCases through to_nsq, built from
// nsq v1.3.0 in the module cache, and through nsqpub, against the same nsqd
// (whose --max-msg-size is 100), and requires the same exit status and,
// for good input, the same messages in nsqd, except for the deliberate
// differences each case names.
func TestCmdMatchesToNSQ(t *testing.T) {
	dir := t.TempDir()
	toNSQ := filepath.Join(dir, "to_nsq")
	if out, err := exec.Command("go", "build", "-o", toNSQ, "github.com/nsqio/nsq/apps/to_nsq").CombinedOutput(); err != nil {
		t.Fatalf("go build to_nsq: %v\n%s", err, out)
	}
	nsqpubBin := buildNSQPub(t, dir)
	n := startNSQD(t, "--max-msg-size=100")
	var differ []string
	ran := 0
	for _, tc := range toNSQCases {
		t.Run(tc.name, func(t *testing.T) {
			ran++
			for _, run := range []struct {
				bin  string
				code int
			}{{toNSQ, tc.code}, {nsqpubBin, tc.nsqpubCode}} {
				topic := topicName(t)
				if tc.code == 0 && tc.nsqpubCode == 0 && len(tc.sent) > 0 {
					n.CreateChannel(t, topic, "ch")
				}
				args := make([]string, len(tc.args))
				for i, a := range tc.args {
					args[i] = strings.NewReplacer("{topic}", topic, "{addr}", n.TCPAddr).Replace(a)
				}
				res := runNSQPub(t, run.bin, strings.NewReader(tc.stdin), args...)
				name := filepath.Base(run.bin)
				if res.code != run.code {
					t.Errorf("%s exits %d, want %d", name, res.code, run.code)
					if name == "nsqpub" {
						differ = append(differ, fmt.Sprintf("%s (to_nsq %d, nsqpub %d)", tc.name, tc.code, res.code))
					}
					continue
				}
				if tc.code == 0 && tc.nsqpubCode == 0 && len(tc.sent) > 0 {
					if got := n.Stats(t, topic).MessageCount; got != int64(len(tc.sent)) {
						t.Errorf("%s: nsqd holds %d messages, want %d", name, got, len(tc.sent))
						continue
					}
					checkBodies(t, consume(t, n, topic, "ch", len(tc.sent)), tc.sent)
				}
			}
		})
	}
	if len(differ) > 0 {
		t.Logf("RESULT cmd vs to_nsq: nsqpub's exit status differs in %d of %d cases: %s", len(differ), ran, strings.Join(differ, "; "))
	} else {
		t.Logf("RESULT cmd vs to_nsq: the same exit status in all %d cases (deliberate differences included as such)", ran)
	}
}
