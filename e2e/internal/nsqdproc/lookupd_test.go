package nsqdproc

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testLookupdBin returns the nsqlookupd binary: $NSQLOOKUPD_BIN, else the
// e2e module's bin/nsqlookupd (`make e2e/bin/nsqlookupd` builds it).
func testLookupdBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("NSQLOOKUPD_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "bin", "nsqlookupd")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no nsqlookupd binary (set NSQLOOKUPD_BIN or run make e2e/bin/nsqlookupd): %v", err)
	}
	return bin
}

func TestLookupdCommandLine(t *testing.T) {
	defaults := []string{"--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0", "--broadcast-address=127.0.0.1", "--log-level=info"}
	cases := []struct {
		name  string
		extra []string
		want  []string
		bad   bool
	}{
		{"defaults", nil, defaults, false},
		{"extra", []string{"--tombstone-lifetime=10s"}, append(slices.Clone(defaults), "--tombstone-lifetime=10s"), false},
		{"debug", []string{"--log-level=debug"}, append(slices.Clone(defaults), "--log-level=debug"), false},
		{"warn hides the ports", []string{"--log-level=warn"}, nil, true},
	}
	for _, c := range cases {
		got, err := lookupdCommandLine(c.extra)
		if c.bad != (err != nil) || !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, %v", c.name, got, err)
		}
	}
}

// TestStartLookupd: nsqlookupd starts on free ports, answers /ping and
// /nodes, and stops on SIGTERM.
func TestStartLookupd(t *testing.T) {
	var out Buffer
	p, err := StartLookupd(Options{Bin: testLookupdBin(t), Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if p.TCPAddr == "" || p.HTTPAddr == "" || p.TCPAddr == p.HTTPAddr {
		t.Fatalf("addresses TCP %q HTTP %q", p.TCPAddr, p.HTTPAddr)
	}
	body, err := Do(http.DefaultClient, http.MethodGet, p.HTTPAddr, "/nodes", nil, http.StatusOK)
	if err != nil || !strings.Contains(string(body), `"producers":[]`) {
		t.Fatalf("/nodes: %s, %v", body, err)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "nsqlookupd v1.3.0") {
		t.Errorf("output lacks the version line:\n%s", out.String())
	}
}
