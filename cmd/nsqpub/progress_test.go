package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsqpub/nsqpub"
)

// progressRE matches one progress line.
var progressRE = regexp.MustCompile(`^nsqpub: \d+ records, \d+/s, \d+ acknowledged, \d+ errors$`)

// TestProgressLineOnATerminal checks the progress line: redrawn in place
// at most every progressEvery, erased before any other message and before
// the summary.
func TestProgressLineOnATerminal(t *testing.T) {
	defer func(old func(io.Writer) bool, every time.Duration) { isTerminal, progressEvery = old, every }(isTerminal, progressEvery)
	isTerminal = func(io.Writer) bool { return true }
	progressEvery = 20 * time.Millisecond
	f := newFakeNSQD(t)
	recs, input := numbered("r", 15)
	input += pattern(20, 0) + "\n" // too big for max_msg_size 10: a message while the line is shown
	start := time.Now()
	res := publish(t, input, "--topic", "t", "--nsqd-tcp-address", f.addr(), "--rate", "50", "--producer-opt", "max_msg_size,10")
	elapsed := time.Since(start)
	wantBodies(t, f, "t", recs...)
	const clear = "\r\x1b[K"
	summary := "nsqpub: published 15 records to 1 nsqd; failed: 1 rejected (first: stdin record 16 (20 bytes, of which nsqpub kept 11) to " +
		f.addr() + ": " + nsqpub.ErrMessageTooLarge.Error() + ": 11 > 10)\n"
	before, ok := strings.CutSuffix(res.stderr, summary)
	if !ok || !(strings.HasSuffix(before, "\n") || strings.HasSuffix(before, clear)) {
		t.Fatalf("stderr does not end with the summary on a line of its own:\n%q", res.stderr)
	}
	if !strings.Contains(res.stderr, clear+"nsqpub: publishing stdin record 16") {
		t.Errorf("the progress line was not erased before a message:\n%q", res.stderr)
	}
	lines := 0
	for _, part := range strings.Split(res.stderr, "\r") {
		part = strings.TrimPrefix(part, "\x1b[K") // an erasure
		line, rest, _ := strings.Cut(part, "\x1b[K")
		switch {
		case line == "":
		case progressRE.MatchString(line):
			lines++
			if rest != "" {
				t.Errorf("text %q after a progress line on the same line", rest)
			}
		case strings.HasPrefix(line, "nsqpub: publishing stdin record 16") || strings.HasPrefix(line, "nsqpub: published"):
		default:
			t.Errorf("unexpected stderr line %q", line)
		}
	}
	if most := int(elapsed/progressEvery) + 1; lines < 2 || lines > most {
		t.Errorf("%d progress lines in %v, want 2 to %d", lines, elapsed, most)
	}
}

// TestNoProgressLineWhenNotATerminal checks that a file or a pipe as
// standard error gets no progress line.
func TestNoProgressLineWhenNotATerminal(t *testing.T) {
	defer func(every time.Duration) { progressEvery = every }(progressEvery)
	progressEvery = time.Millisecond
	file, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if isTerminal(file) || isTerminal(&bytes.Buffer{}) {
		t.Fatal("a regular file or a buffer taken for a terminal")
	}
	f := newFakeNSQD(t)
	_, input := numbered("r", 10)
	code := run(context.Background(), append(slices.Clone(slackOpts), "--topic", "t", "--nsqd-tcp-address", f.addr(), "--rate", "200"),
		strings.NewReader(input), io.Discard, file)
	out, err := os.ReadFile(file.Name())
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || string(out) != "nsqpub: published 10 records to 1 nsqd\n" {
		t.Errorf("exit %d, stderr %q; want 0 and just the summary", code, out)
	}
}
