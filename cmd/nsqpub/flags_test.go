package main

import (
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

// TestUsageErrors checks that bad command lines exit with status 2 and a
// clear message.
func TestUsageErrors(t *testing.T) {
	addr := "127.0.0.1:1" // never dialled: the command stops before
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing topic", []string{"--nsqd-tcp-address", addr}, "--topic is required"},
		{"invalid topic", []string{"--topic", "a:b", "--nsqd-tcp-address", addr}, `invalid --topic "a:b"`},
		{"topic too long", []string{"--topic", strings.Repeat("x", 65), "--nsqd-tcp-address", addr}, "invalid --topic"},
		{"missing address", []string{"--topic", "t"}, "--nsqd-tcp-address or --lookupd-http-address is required"},
		{"empty address", []string{"--topic", "t", "--nsqd-tcp-address", ""}, "empty --nsqd-tcp-address"},
		{"unknown producer option", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--producer-opt", "no_such_option,1"}, "unknown option"},
		{"bad producer option value", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--producer-opt", "max_msg_size,abc"}, "max_msg_size"},
		{"invalid producer config", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--producer-opt", "max_msg_size,-5"}, "invalid config: max_msg_size -5"},
		{"long delimiter", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--delimiter", "ab"}, "must be one byte"},
		{"empty delimiter", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--delimiter", ""}, "must be one byte"},
		{"negative rate", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--rate", "-1"}, "--rate -1"},
		{"huge rate", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--rate", "2000000000"}, "--rate 2000000000"},
		{"unknown strategy", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--balance", "--balance-strategy", "random"}, `--balance-strategy "random"`},
		{"strategy without balance", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--balance-strategy", "failover"}, "--balance-strategy needs --balance"},
		{"empty lookupd", []string{"--topic", "t", "--lookupd-http-address", ""}, "empty --lookupd-http-address"},
		{"bad lookupd", []string{"--topic", "t", "--lookupd-http-address", "ftp://x:1"}, "nsqlookupd address"},
		{"lookupd down, no node", []string{"--topic", "t", "--lookupd-http-address", addr}, "nsqlookupd " + addr + ": "},
		{"unknown flag", []string{"--topic", "t", "--nsqd-tcp-address", addr, "--nope"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := publish(t, "never read\n", tc.args...)
			if res.code != 2 {
				t.Errorf("exit status %d, want 2", res.code)
			}
			if !strings.Contains(res.stderr, tc.want) {
				t.Errorf("stderr does not contain %q:\n%s", tc.want, res.stderr)
			}
		})
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
