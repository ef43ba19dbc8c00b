package nsqpub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxNodesBody is the largest /nodes answer read: a larger one is a
// failure, and no more of it is read. 4 MiB lists thousands of nodes with
// thousands of topics each.
const maxNodesBody = 4 << 20

// nodesURL returns the /nodes endpoint of the nsqlookupd whose HTTP API is
// at addr: host:port, or an http or https URL with a port or a path. A URL
// with no path, "/", or a path ending in /lookup (as given to a consumer)
// gets /nodes; any other path is kept as given.
func nodesURL(addr string) (string, error) {
	s := strings.TrimSpace(addr)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("scheme %q is not http or https", u.Scheme)
	case u.Hostname() == "":
		return "", errors.New("no host")
	case u.Port() == "" && (u.Path == "" || u.Path == "/"):
		return "", errors.New("no port")
	}
	switch {
	case u.Path == "" || u.Path == "/":
		u.Path = "/nodes"
	case strings.HasSuffix(u.Path, "/lookup"):
		u.Path = strings.TrimSuffix(u.Path, "lookup") + "nodes"
	}
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String(), nil
}

// fetchNodes asks the nsqlookupd at url for its nodes, bounded by client's
// timeout and ctx, reading at most maxNodesBody of its answer.
func fetchNodes(ctx context.Context, client *http.Client, url, secret string) (map[string]map[string]bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.nsq; version=1.0")
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxNodesBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %.200q", resp.Status, body)
	}
	if len(body) > maxNodesBody {
		return nil, fmt.Errorf("answer larger than %d bytes", maxNodesBody)
	}
	return parseNodes(body)
}

// nodeJSON is one producer of nsqlookupd's /nodes answer. Other fields
// (remote_address, hostname, http_port, version) are not needed.
type nodeJSON struct {
	BroadcastAddress string   `json:"broadcast_address"`
	TCPPort          int      `json:"tcp_port"`
	Topics           []string `json:"topics"`
	Tombstones       []bool   `json:"tombstones"` // parallel to Topics
}

// parseNodes reads a /nodes answer: {"producers":[...]}, as nsqlookupd
// v1 sends it, or the same wrapped in {"data":...} as older versions do.
// It returns each node's address (broadcast_address:tcp_port) with the set
// of topics tombstoned on it (nil: none). An answer with no producers list,
// a node without a usable address or port, or topics and tombstones of
// different lengths is an error: the answer is not trusted at all.
func parseNodes(body []byte) (map[string]map[string]bool, error) {
	type list struct {
		Producers *[]nodeJSON `json:"producers"`
	}
	var doc struct {
		list
		Data *list `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("not a list of nodes: %w", err)
	}
	producers := doc.Producers
	if producers == nil && doc.Data != nil {
		producers = doc.Data.Producers
	}
	if producers == nil {
		return nil, errors.New("not a list of nodes: no producers")
	}
	nodes := make(map[string]map[string]bool, len(*producers))
	for i, p := range *producers {
		host := p.BroadcastAddress
		if host == "" || len(host) > 255 || strings.ContainsAny(host, " \t\r\n/") {
			return nil, fmt.Errorf("producer %d: bad broadcast_address %.64q", i, host)
		}
		if p.TCPPort < 1 || p.TCPPort > 65535 {
			return nil, fmt.Errorf("producer %d (%s): bad tcp_port %d", i, host, p.TCPPort)
		}
		if len(p.Tombstones) != len(p.Topics) {
			return nil, fmt.Errorf("producer %d (%s): %d tombstones for %d topics", i, host, len(p.Tombstones), len(p.Topics))
		}
		addr := net.JoinHostPort(host, strconv.Itoa(p.TCPPort))
		tombs := nodes[addr]
		for j, topic := range p.Topics {
			if p.Tombstones[j] {
				if tombs == nil {
					tombs = make(map[string]bool)
				}
				tombs[topic] = true
			}
		}
		nodes[addr] = tombs
	}
	return nodes, nil
}
