// Command demo starts two real nsqd on loopback, pipes a stream of records
// through `nsqpub --balance` to spread them over both, and prints how many
// messages each nsqd confirms. Then it kills one nsqd and publishes again:
// every record goes to the survivor. `make demo` runs it.
//
//	demo -nsqd e2e/bin/nsqd -nsqpub bin/nsqpub -n 10000
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

func main() {
	nsqdBin := flag.String("nsqd", "e2e/bin/nsqd", "path of the nsqd binary")
	nsqpubBin := flag.String("nsqpub", "bin/nsqpub", "path of the nsqpub command")
	n := flag.Int("n", 10000, "records to publish")
	flag.Parse()
	log.SetFlags(0)

	dir, err := os.MkdirTemp("", "nsqpub-demo")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var nodes []*node
	for _, name := range []string{"a", "b"} {
		if err := os.Mkdir(dir+"/"+name, 0o755); err != nil {
			log.Fatal(err)
		}
		nd := startNSQD(*nsqdBin, dir+"/"+name)
		defer nd.stop()
		nodes = append(nodes, nd)
		fmt.Printf("nsqd %s listening on %s (HTTP %s)\n", name, nd.tcp, nd.http)
	}

	const topic = "demo"
	args := []string{"--topic", topic, "--balance", "--nsqd-tcp-address", nodes[0].tcp, "--nsqd-tcp-address", nodes[1].tcp}
	fmt.Printf("\n$ nsqpub %s < %d records\n", strings.Join(args, " "), *n)
	elapsed := publish(*nsqpubBin, args, 0, *n)
	var total int64
	counts := make([]int64, len(nodes))
	for i, nd := range nodes {
		counts[i] = messageCount(nd.http, topic)
		total += counts[i]
		fmt.Printf("nsqd %c (%s): message_count=%d (%.1f%%)\n", 'a'+i, nd.tcp, counts[i], 100*float64(counts[i])/float64(*n))
	}
	fmt.Printf("published %d records with %s --balance in %v; the two nsqd confirm %d in total\n",
		*n, *nsqpubBin, elapsed.Round(time.Millisecond), total)
	if total != int64(*n) {
		log.Fatalf("the two nsqd hold %d messages, want %d", total, *n)
	}

	// Kill b: the pool skips it and sends everything to a.
	m := max(*n/10, 1)
	nodes[1].stop()
	fmt.Printf("\nnsqd b killed\n$ nsqpub %s < %d more records\n", strings.Join(args, " "), m)
	publish(*nsqpubBin, args, *n, m)
	a := messageCount(nodes[0].http, topic)
	fmt.Printf("nsqd a (%s): message_count=%d (+%d): every record confirmed with one nsqd down\n", nodes[0].tcp, a, a-counts[0])
	if a != counts[0]+int64(m) {
		log.Fatalf("nsqd a holds %d messages, want %d", a, counts[0]+int64(m))
	}
}

// publish runs nsqpub with args, feeding it records first..first+count-1
// as JSON lines, and returns how long it took. nsqpub's summary goes to
// standard error; a non-zero exit is fatal.
func publish(bin string, args []string, first, count int) time.Duration {
	cmd := exec.Command(bin, args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		log.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriter(in)
	for i := first; i < first+count; i++ {
		fmt.Fprintf(w, `{"event":"demo","seq":%d}`+"\n", i)
	}
	w.Flush()
	in.Close()
	if err := cmd.Wait(); err != nil {
		log.Fatalf("nsqpub: %v", err)
	}
	return time.Since(start)
}

// node is one nsqd process.
type node struct {
	tcp, http string
	cmd       *exec.Cmd
	stopped   bool
}

// stop kills the nsqd (once).
func (nd *node) stop() {
	if !nd.stopped {
		nd.stopped = true
		nd.cmd.Process.Kill()
		nd.cmd.Wait()
	}
}

// startNSQD runs nsqd on free loopback ports with its data in dir.
func startNSQD(bin, dir string) *node {
	cmd := exec.Command(bin, "--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
		"--https-address=127.0.0.1:0", "--data-path="+dir)
	out, err := cmd.StderrPipe()
	if err != nil {
		log.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatalf("starting %s: %v", bin, err)
	}
	nd := &node{cmd: cmd}
	re := regexp.MustCompile(`(TCP|HTTP): listening on (\S+)`)
	sc := bufio.NewScanner(out)
	for (nd.tcp == "" || nd.http == "") && sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			if m[1] == "TCP" {
				nd.tcp = m[2]
			} else {
				nd.http = m[2]
			}
		}
	}
	if nd.tcp == "" || nd.http == "" {
		nd.stop()
		log.Fatal("nsqd did not report its ports")
	}
	go io.Copy(io.Discard, out)
	return nd
}

// messageCount reads the topic's message_count from /stats.
func messageCount(httpAddr, topic string) int64 {
	resp, err := http.Get("http://" + httpAddr + "/stats?format=json&topic=" + topic)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		Topics []struct {
			Name  string `json:"topic_name"`
			Count int64  `json:"message_count"`
		} `json:"topics"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		log.Fatal(err)
	}
	for _, t := range s.Topics {
		if strings.EqualFold(t.Name, topic) {
			return t.Count
		}
	}
	return 0
}
