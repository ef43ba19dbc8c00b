package nsqdproc

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMessageCount(t *testing.T) {
	const twoTopics = `{"version":"1.3.0","topics":[{"topic_name":"a","message_count":3},{"topic_name":"b","message_count":7}]}`
	cases := []struct {
		name      string
		status    int
		body      string
		topic     string
		want      int64
		wantErr   string
		wantNoTop bool
	}{
		{"found", http.StatusOK, twoTopics, "b", 7, "", false},
		{"missing topic", http.StatusOK, twoTopics, "c", 0, "topic not in /stats", true},
		{"no topics", http.StatusOK, `{"topics":[]}`, "a", 0, "topic not in /stats", true},
		{"not JSON", http.StatusOK, `<html>`, "a", 0, "decoding /stats", false},
		{"bad status", http.StatusInternalServerError, `{"message":"boom"}`, "a", 0, "500 Internal Server Error {\"message\":\"boom\"}, want 200", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var query string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				query = r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			got, err := MessageCount(srv.Client(), strings.TrimPrefix(srv.URL, "http://"), c.topic)
			if want := "GET /stats?format=json&topic=" + c.topic; query != want {
				t.Errorf("request %q, want %q", query, want)
			}
			if got != c.want {
				t.Errorf("count %d, want %d", got, c.want)
			}
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("err = %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("err = %v, want one containing %q", err, c.wantErr)
			}
			if errors.Is(err, ErrNoTopic) != c.wantNoTop {
				t.Errorf("errors.Is(%v, ErrNoTopic) = %v, want %v", err, !c.wantNoTop, c.wantNoTop)
			}
		})
	}
}

func TestDoUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close() // nothing listens there any more
	if err := Ping(http.DefaultClient, addr); err == nil || !strings.Contains(err.Error(), "/ping") {
		t.Fatalf("Ping of a closed port = %v, want an error naming /ping", err)
	}
}
