package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestStdinRecords checks how standard input is split into the records
// published: delimiters, empty records, a final record without its
// delimiter (which to_nsq cuts short), records longer than the read buffer.
func TestStdinRecords(t *testing.T) {
	big, edge, last := pattern(200<<10, 0), pattern(readBufSize, 1), pattern(readBufSize+1, 2)
	for _, tc := range []struct {
		name  string
		input string
		delim string // --delimiter, when set
		want  []string
	}{
		{"newlines", "alpha\nbeta\ngamma\n", "", []string{"alpha", "beta", "gamma"}},
		{"final record without delimiter", "one\ntwo\nthree", "", []string{"one", "two", "three"}},
		{"empty records skipped", "\n\na\n\n\nb\n\n", "", []string{"a", "b"}},
		{"empty input", "", "", nil},
		{"plain delimiter", "a,b,,c\nd,", ",", []string{"a", "b", "c\nd"}},
		{"tab", "p\tq\t", `\t`, []string{"p", "q"}},
		{"NUL", "p\x00q", `\0`, []string{"p", "q"}},
		{"hex escape", "p\x1eq\x1e\x1e", `\x1e`, []string{"p", "q"}},
		// exactly the read buffer, longer, and longer without a delimiter
		{"longer than the read buffer", "small\n" + big + "\n" + edge + "\n" + last, "", []string{"small", big, edge, last}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNSQD(t)
			args := []string{"--topic", "t", "--nsqd-tcp-address", f.addr()}
			if tc.delim != "" {
				args = append(args, "--delimiter", tc.delim)
			}
			res := publish(t, tc.input, args...)
			noun := "records"
			if len(tc.want) == 1 {
				noun = "record"
			}
			wantSuccess(t, res, fmt.Sprintf("nsqpub: published %d %s to 1 nsqd", len(tc.want), noun))
			wantBodies(t, f, "t", tc.want...)
		})
	}
}

// TestFileArguments checks that files and "-" (stdin) are read in the order
// given.
func TestFileArguments(t *testing.T) {
	f := newFakeNSQD(t)
	a := writeFile(t, "a.txt", "a1\na2\n")
	b := writeFile(t, "b.txt", "b1\n\nb2") // no trailing newline
	res := publish(t, "s1\ns2\n", "--topic", "t", "--nsqd-tcp-address", f.addr(), a, "-", b)
	wantSuccess(t, res, "nsqpub: published 6 records to 1 nsqd")
	wantBodies(t, f, "t", "a1", "a2", "s1", "s2", "b1", "b2")
}

// TestInputErrorsAreReported checks that an input that cannot be opened or
// read is reported and makes the status 1, while the records before the
// error and the other inputs are published.
func TestInputErrorsAreReported(t *testing.T) {
	a := writeFile(t, "a.txt", "a1\n")
	missing := filepath.Join(t.TempDir(), "missing.txt")
	b := writeFile(t, "b.txt", "b1\n")
	for _, tc := range []struct {
		name    string
		stdin   io.Reader
		files   []string
		message string // in stderr
		want    []string
	}{
		{"missing file", strings.NewReader(""), []string{a, missing, b}, "missing.txt: no such file", []string{"a1", "b1"}},
		{"read error", io.MultiReader(strings.NewReader("a\nb\npartial"), errReader{errors.New("disk on fire")}), nil,
			"nsqpub: reading stdin: disk on fire\n", []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNSQD(t)
			args := append([]string{"--topic", "t", "--nsqd-tcp-address", f.addr()}, tc.files...)
			res := runCmd(t, context.Background(), tc.stdin, args...)
			wantFailure(t, res, "nsqpub: published 2 records to 1 nsqd")
			if !strings.Contains(res.stderr, tc.message) {
				t.Errorf("stderr does not contain %q:\n%s", tc.message, res.stderr)
			}
			wantBodies(t, f, "t", tc.want...)
		})
	}
}

// errReader fails every read with err.
type errReader struct{ err error }

// Read returns the error.
func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestSplitter checks the record splitter with a tiny buffer, so that records
// span several reads, and records longer than it keeps cut to keep bytes.
func TestSplitter(t *testing.T) {
	long := pattern(100, 0) // longer than the 16-byte test buffer
	for _, tc := range []struct {
		name  string
		input string
		keep  int
		want  []string // "" stands for an empty record
		sizes []int    // when set, the record lengths (for cut records)
	}{
		{"empty", "", 1000, nil, nil},
		{"delimiters only", "\n\n", 1000, []string{"", ""}, nil},
		{"trailing", "a\nb\n", 1000, []string{"a", "b"}, nil},
		{"no trailing", "a\nb", 1000, []string{"a", "b"}, nil},
		{"long", "x\n" + long + "\n" + long, 1000, []string{"x", long, long}, nil},
		{"exactly the buffer", pattern(16, 1) + "\n" + pattern(15, 2) + "\n", 1000, []string{pattern(16, 1), pattern(15, 2)}, nil},
		{"cut within one read", "abcdefgh\nxy", 5, []string{"abcde", "xy"}, []int{8, 2}},
		{"cut over several reads", "ok\n" + long + "\nok2", 50, []string{"ok", long[:50], "ok2"}, []int{2, 100, 3}},
		{"at the cut", pattern(50, 3) + "\n" + pattern(51, 4), 50, []string{pattern(50, 3), pattern(51, 4)[:50]}, []int{50, 51}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, sizes := splitAll(t, tc.input, tc.keep)
			var got []string
			for _, r := range recs {
				got = append(got, string(r))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("records %q, want %q", got, tc.want)
			}
			if tc.sizes != nil && !slices.Equal(sizes, tc.sizes) {
				t.Errorf("sizes %v, want %v", sizes, tc.sizes)
			}
		})
	}
}

// TestSplitterCopiesAreIndependent checks that records carved out of a
// shared slab are capped, so that none can overwrite its neighbour.
func TestSplitterCopiesAreIndependent(t *testing.T) {
	recs, _ := splitAll(t, "aa\nbb\ncc\n", 100)
	if len(recs) != 3 || cap(recs[0]) != 2 {
		t.Fatalf("records %q, cap %d", recs, cap(recs[0]))
	}
	_ = append(recs[0], 'X')
	if string(recs[1]) != "bb" || string(recs[2]) != "cc" {
		t.Errorf("records changed: %q", recs)
	}
}

// splitAll splits input on newlines with a 16-byte read buffer, keeping
// keep bytes of a record, and returns every record and its length.
func splitAll(t *testing.T, input string, keep int) (recs [][]byte, sizes []int) {
	t.Helper()
	sp := &splitter{br: bufio.NewReaderSize(strings.NewReader(input), 16), delim: '\n', keep: keep}
	for {
		rec, n, err := sp.next()
		if err == io.EOF {
			return recs, sizes
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
		sizes = append(sizes, n)
	}
}
