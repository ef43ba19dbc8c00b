package nsqdproc

import (
	"bytes"
	"strings"
	"testing"
)

func TestListenWatcher(t *testing.T) {
	const (
		tcpLine   = "[nsqd] 2026/11/25 16:21:25.207216 INFO: TCP: listening on 127.0.0.1:42801\n"
		httpLine  = "[nsqd] 2026/11/25 16:21:25.207300 INFO: HTTP: listening on 127.0.0.1:42802\n"
		httpsLine = "[nsqd] 2026/11/25 16:21:25.207100 INFO: HTTPS: listening on 127.0.0.1:42803\n"
		other     = "[nsqd] 2026/11/25 16:21:25.207000 INFO: nsqd v1.3.0\n"
	)
	cases := []struct {
		name     string
		writes   []string
		wantTCP  string
		wantHTTP string
	}{
		{"whole lines", []string{other, httpsLine, tcpLine, httpLine}, "127.0.0.1:42801", "127.0.0.1:42802"},
		{"one write", []string{other + httpLine + tcpLine}, "127.0.0.1:42801", "127.0.0.1:42802"},
		{"lines cut anywhere", []string{tcpLine[:10], tcpLine[10:] + httpLine[:50], httpLine[50:]}, "127.0.0.1:42801", "127.0.0.1:42802"},
		{"line not finished yet", []string{tcpLine, strings.TrimSuffix(httpLine, "\n")}, "127.0.0.1:42801", ""},
		{"HTTPS is not HTTP", []string{httpsLine, tcpLine}, "127.0.0.1:42801", ""},
		{"nothing", []string{other}, "", ""},
	}
	for _, c := range cases {
		for _, keep := range []bool{false, true} {
			name := c.name + "/to a writer"
			if keep {
				name = c.name + "/kept"
			}
			t.Run(name, func(t *testing.T) {
				var out bytes.Buffer
				w := newListenWatcher(&out)
				if keep {
					w = newListenWatcher(nil)
				}
				for _, s := range c.writes {
					if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
						t.Fatalf("Write = %d, %v", n, err)
					}
				}
				tcp, http := w.addrs()
				if tcp != c.wantTCP || http != c.wantHTTP {
					t.Errorf("addrs %q %q, want %q %q", tcp, http, c.wantTCP, c.wantHTTP)
				}
				select {
				case <-w.found:
					if c.wantTCP == "" || c.wantHTTP == "" {
						t.Error("found closed with an address missing")
					}
				default:
					if c.wantTCP != "" && c.wantHTTP != "" {
						t.Error("found not closed with both addresses known")
					}
				}
				all := strings.Join(c.writes, "")
				if keep {
					if got := w.startLog(); got != "\nnsqd output:\n"+all {
						t.Errorf("startLog %q", got)
					}
					w.ready()
					if got := w.startLog(); got != "" {
						t.Errorf("startLog after ready %q", got)
					}
				} else {
					if out.String() != all {
						t.Errorf("passed on %q, want %q", out.String(), all)
					}
					if got := w.startLog(); got != "" {
						t.Errorf("startLog with a writer %q", got)
					}
				}
			})
		}
	}
}
