package main

import (
	"io"
	"strings"
	"testing"

	"github.com/nsqpub/nsqpub"
)

// TestSingleDashFlags checks that flags work with one dash and with
// name=value.
func TestSingleDashFlags(t *testing.T) {
	f := newFakeNSQD(t)
	res := publish(t, "x\n", "-topic=t1", "-nsqd-tcp-address="+f.addr())
	wantSuccess(t, res, "nsqpub: published 1 record to 1 nsqd")
	wantBodies(t, f, "t1", "x")
}

// TestUsageErrors checks that bad command lines exit as to_nsq's do, with
// a clear message: 2 when the flag package refuses a flag, 1 for the other
// usage errors.
func TestUsageErrors(t *testing.T) {
	addr := "127.0.0.1:1" // never dialled: the command stops before
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing topic", []string{"--nsqd-tcp-address", addr}, 1, "--topic is required"},
		{"invalid topic", []string{"--topic", "a:b", "--nsqd-tcp-address", addr}, 1, `invalid --topic "a:b"`},
		{"topic too long", []string{"--topic", strings.Repeat("x", 65), "--nsqd-tcp-address", addr}, 1, "invalid --topic"},
		{"missing address", []string{"--topic", "t"}, 1, "--nsqd-tcp-address or --lookupd-http-address is required"},
		{"empty address", []string{"--topic", "t", "--nsqd-tcp-address", ""}, 1, "empty --nsqd-tcp-address"},
		{"unknown producer option", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--producer-opt", "no_such_option,1"}, 2, "unknown option"},
		{"bad producer option value", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--producer-opt", "max_msg_size,abc"}, 2, "max_msg_size"},
		{"invalid producer config", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--producer-opt", "max_msg_size,-5"}, 1, "invalid config: max_msg_size -5"},
		{"long delimiter", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--delimiter", "ab"}, 1, "must be one byte"},
		{"empty delimiter", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--delimiter", ""}, 1, "must be one byte"},
		{"malformed rate", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--rate", "fast"}, 2, `invalid value "fast" for flag -rate`},
		{"unknown strategy", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--balance", "--balance-strategy", "random"}, 2, `invalid value "random" for flag -balance-strategy: want round-robin or failover`},
		{"strategy without balance", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--balance-strategy", "failover"}, 1, "--balance-strategy needs --balance"},
		{"empty lookupd", []string{"--topic", "t", "--lookupd-http-address", ""}, 1, "empty --lookupd-http-address"},
		{"bad lookupd", []string{"--topic", "t", "--lookupd-http-address", "ftp://x:1"}, 1, "nsqlookupd address"},
		{"lookupd down, no node", []string{"--topic", "t", "--lookupd-http-address", addr}, 1, "nsqlookupd " + addr + ": "},
		{"unknown flag", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--nope"}, 2, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := publish(t, "never read\n", tc.args...)
			if res.code != tc.code {
				t.Errorf("exit status %d, want %d", res.code, tc.code)
			}
			if !strings.Contains(res.stderr, tc.want) {
				t.Errorf("stderr does not contain %q:\n%s", tc.want, res.stderr)
			}
		})
	}
}

// TestRateOutOfRange checks that a --rate below 1 or beyond maxRate means
// no limit, as with to_nsq.
func TestRateOutOfRange(t *testing.T) {
	f := newFakeNSQD(t)
	for _, rate := range []string{"0", "-1", "2000000000"} {
		res := publish(t, "x\n", "--topic", "t", "--nsqd-tcp-address", f.addr(), "--rate", rate)
		wantSuccess(t, res, "nsqpub: published 1 record to 1 nsqd")
		opts, code := parseFlags([]string{"--topic", "t", "--nsqd-tcp-address", f.addr(), "--rate", rate}, io.Discard, io.Discard)
		if code != 0 || opts.rate != 0 {
			t.Errorf("--rate %s: exit %d, rate %d; want 0 and no limit", rate, code, opts.rate)
		}
	}
}

// TestVersionAndHelp checks --version and -h: status 0, and what each
// prints where.
func TestVersionAndHelp(t *testing.T) {
	for _, tc := range []struct {
		flag       string
		wantStdout string // exactly
		wantStderr []string
	}{
		{"--version", "nsqpub " + nsqpub.Version + "\n", nil},
		{"-h", "", []string{"Usage: nsqpub", "-producer-opt", "-balance-strategy"}},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			res := publish(t, "", tc.flag)
			if res.code != 0 || res.stdout != tc.wantStdout {
				t.Errorf("exit %d, stdout %q; want 0 and %q", res.code, res.stdout, tc.wantStdout)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, res.stderr)
				}
			}
		})
	}
}

// TestParseDelimiter checks the accepted and rejected --delimiter values.
func TestParseDelimiter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want byte
		ok   bool
	}{
		{"\n", '\n', true},
		{",", ',', true},
		{`\`, '\\', true},
		{`\t`, '\t', true},
		{`\0`, 0, true},
		{`\000`, 0, true},
		{`\x1e`, 0x1e, true},
		{`\n`, '\n', true},
		{`\\`, '\\', true},
		{"", 0, false},
		{"ab", 0, false},
		{`\x`, 0, false},
		{`\u00e9`, 0, false},
		{`\q`, 0, false},
	} {
		got, err := parseDelimiter(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDelimiter(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
