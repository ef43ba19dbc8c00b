package nsqpub

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNodesURL(t *testing.T) {
	tests := []struct {
		addr, want string
		bad        bool
	}{
		{addr: "127.0.0.1:4161", want: "http://127.0.0.1:4161/nodes"},
		{addr: " lookupd:4161 ", want: "http://lookupd:4161/nodes"},
		{addr: "[::1]:4161", want: "http://[::1]:4161/nodes"},
		{addr: "http://lookupd:4161", want: "http://lookupd:4161/nodes"},
		{addr: "http://lookupd:4161/", want: "http://lookupd:4161/nodes"},
		{addr: "https://lookupd:4161/lookup?topic=x", want: "https://lookupd:4161/nodes"},
		{addr: "https://proxy/nsq/one/lookup", want: "https://proxy/nsq/one/nodes"},
		{addr: "https://proxy/nsq/one/nodes", want: "https://proxy/nsq/one/nodes"},
		{addr: "lookupd", bad: true},
		{addr: "http://lookupd", bad: true},
		{addr: "ftp://lookupd:21", bad: true},
		{addr: "http://:4161", bad: true},
		{addr: "http://[::1", bad: true},
		{addr: "", bad: true},
	}
	for _, tt := range tests {
		got, err := nodesURL(tt.addr)
		if tt.bad != (err != nil) || got != tt.want && !tt.bad {
			t.Errorf("nodesURL(%q) = %q, %v; want %q (error: %v)", tt.addr, got, err, tt.want, tt.bad)
		}
	}
}

// nodesV1 is an answer as nsqlookupd v1.3.0 sends it.
const nodesV1 = `{"producers":[
 {"remote_address":"127.0.0.1:52000","hostname":"a","broadcast_address":"10.0.0.1","tcp_port":4150,"http_port":4151,"version":"1.3.0","tombstones":[false,true],"topics":["t","u"]},
 {"remote_address":"127.0.0.1:52001","hostname":"b","broadcast_address":"10.0.0.2","tcp_port":4150,"http_port":4151,"version":"1.3.0","tombstones":[],"topics":null},
 {"remote_address":"127.0.0.1:52002","hostname":"c","broadcast_address":"::1","tcp_port":4152,"http_port":4153,"version":"1.3.0","tombstones":[false],"topics":["t"]}]}`

func TestParseNodes(t *testing.T) {
	tests := []struct {
		name, body string
		want       map[string]map[string]bool
		bad        bool
	}{
		{name: "v1", body: nodesV1, want: map[string]map[string]bool{
			"10.0.0.1:4150": {"u": true}, "10.0.0.2:4150": nil, "[::1]:4152": nil}},
		{name: "wrapped", body: `{"status_code":200,"status_txt":"OK","data":{"producers":[{"broadcast_address":"h","tcp_port":1,"topics":["t"],"tombstones":[true]}]}}`,
			want: map[string]map[string]bool{"h:1": {"t": true}}},
		{name: "no nodes", body: `{"producers":[]}`, want: map[string]map[string]bool{}},
		{name: "twice", body: `{"producers":[{"broadcast_address":"h","tcp_port":1,"topics":["t"],"tombstones":[true]},{"broadcast_address":"h","tcp_port":1,"topics":["u"],"tombstones":[true]}]}`,
			want: map[string]map[string]bool{"h:1": {"t": true, "u": true}}},
		{name: "html", body: "<html><body>502 Bad Gateway</body></html>", bad: true},
		{name: "empty", body: "", bad: true},
		{name: "empty object", body: "{}", bad: true},
		{name: "producers null", body: `{"producers":null}`, bad: true},
		{name: "wrong type", body: `{"producers":{"a":1}}`, bad: true},
		{name: "port string", body: `{"producers":[{"broadcast_address":"h","tcp_port":"4150"}]}`, bad: true},
		{name: "port zero", body: `{"producers":[{"broadcast_address":"h","tcp_port":0}]}`, bad: true},
		{name: "port too big", body: `{"producers":[{"broadcast_address":"h","tcp_port":70000}]}`, bad: true},
		{name: "no address", body: `{"producers":[{"tcp_port":4150}]}`, bad: true},
		{name: "address with a slash", body: `{"producers":[{"broadcast_address":"h/x","tcp_port":4150}]}`, bad: true},
		{name: "tombstones short", body: `{"producers":[{"broadcast_address":"h","tcp_port":1,"topics":["t"],"tombstones":[]}]}`, bad: true},
		{name: "truncated", body: nodesV1[:100], bad: true},
	}
	for _, tt := range tests {
		got, err := parseNodes([]byte(tt.body))
		if tt.bad {
			if err == nil {
				t.Errorf("%s: parsed %v, want an error", tt.name, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

// FuzzParseNodes: whatever nsqlookupd (or anything in its place) answers,
// parseNodes does not panic, and every node it returns has an address a
// Producer can dial.
func FuzzParseNodes(f *testing.F) {
	f.Add([]byte(nodesV1))
	f.Add([]byte(`{"data":{"producers":[{"broadcast_address":"h","tcp_port":1,"topics":["t"],"tombstones":[true]}]}}`))
	f.Add([]byte(`{"producers":[]}`))
	f.Add([]byte(`<html>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		nodes, err := parseNodes(body)
		if err != nil {
			return
		}
		for addr := range nodes {
			host, port, err := net.SplitHostPort(addr)
			n, perr := strconv.Atoi(port)
			if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
				t.Fatalf("unusable node address %q", addr)
			}
		}
	})
}

// TestFetchNodes: the request nsqlookupd gets, and what makes an answer a
// failure.
func TestFetchNodes(t *testing.T) {
	big := strings.Repeat(" ", maxNodesBody) + `{"producers":[]}`
	tests := []struct {
		name     string
		status   int
		body     string
		secret   string
		bad      bool
		nodes    int
		wantAuth string
	}{
		{name: "ok", status: 200, body: nodesV1, nodes: 3},
		{name: "secret", status: 200, body: nodesV1, secret: "s3", wantAuth: "Bearer s3", nodes: 3},
		{name: "500", status: 500, body: `{"message":"INTERNAL_ERROR"}`, bad: true},
		{name: "404 html", status: 404, body: "<html>not found</html>", bad: true},
		{name: "too big", status: 200, body: big, bad: true},
	}
	for _, tt := range tests {
		var auth, accept string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			auth, accept = r.Header.Get("Authorization"), r.Header.Get("Accept")
			if r.URL.Path != "/nodes" {
				w.WriteHeader(404)
				return
			}
			w.WriteHeader(tt.status)
			w.Write([]byte(tt.body))
		}))
		nodes, err := fetchNodes(context.Background(), srv.Client(), srv.URL+"/nodes", tt.secret)
		srv.Close()
		if tt.bad != (err != nil) || len(nodes) != tt.nodes {
			t.Errorf("%s: %d nodes, %v", tt.name, len(nodes), err)
		}
		if auth != tt.wantAuth || accept != "application/vnd.nsq; version=1.0" {
			t.Errorf("%s: Authorization %q Accept %q", tt.name, auth, accept)
		}
	}

	t.Run("never answers", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer srv.Close()
		defer close(release)
		start := time.Now()
		_, err := fetchNodes(context.Background(), &http.Client{Timeout: 100 * time.Millisecond}, srv.URL+"/nodes", "")
		if err == nil || time.Since(start) > 5*time.Second {
			t.Fatalf("%v after %v", err, time.Since(start))
		}
		if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "Timeout") {
			t.Fatalf("not a timeout: %v", err)
		}
	})
}
