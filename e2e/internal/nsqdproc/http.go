package nsqdproc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// ErrNoTopic is what MessageCount's error wraps for a topic nsqd does not
// have.
var ErrNoTopic = errors.New("topic not in /stats")

// Do sends method path?q to the HTTP API at httpAddr through client and
// returns the body. It fails if the request fails or the status is not want.
func Do(client *http.Client, method, httpAddr, path string, q url.Values, want int) ([]byte, error) {
	u := "http://" + httpAddr + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err // it names the method and the URL
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the body: %w", method, u, err)
	}
	if resp.StatusCode != want {
		return body, fmt.Errorf("%s %s: %s %s, want %d", method, u, resp.Status, bytes.TrimSpace(body), want)
	}
	return body, nil
}

// Ping returns nil if GET /ping answers 200, else what went wrong.
func Ping(client *http.Client, httpAddr string) error {
	_, err := Do(client, http.MethodGet, httpAddr, "/ping", nil, http.StatusOK)
	return err
}

// MessageCount returns topic's message_count, the messages nsqd accepted
// for it since it started, from GET /stats.
func MessageCount(client *http.Client, httpAddr, topic string) (int64, error) {
	q := url.Values{"format": {"json"}, "topic": {topic}}
	body, err := Do(client, http.MethodGet, httpAddr, "/stats", q, http.StatusOK)
	if err != nil {
		return 0, err
	}
	var s struct {
		Topics []struct {
			Name  string `json:"topic_name"`
			Count int64  `json:"message_count"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return 0, fmt.Errorf("decoding /stats: %w", err)
	}
	for _, t := range s.Topics {
		if t.Name == topic {
			return t.Count, nil
		}
	}
	return 0, fmt.Errorf("%q: %w", topic, ErrNoTopic)
}
