// Command demo starts two real nsqd on loopback, pipes a stream of records
// through `nsqpub --balance` to spread them over both, and prints how many
// messages each nsqd confirms. Then it kills one nsqd and publishes again:
// every record goes to the survivor. `make demo` runs it.
//
//	demo -nsqd e2e/bin/nsqd -nsqpub bin/nsqpub -n 10000
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nsqpub/nsqpub/e2e/internal/nsqdproc"
)

// killGrace is how long a node's SIGTERM may take before it is killed.
const killGrace = 10 * time.Second

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
	var nodes []*nsqdproc.Process
	// fatalf stops the nodes and removes their data before it exits.
	fatalf := func(format string, args ...any) {
		for _, nd := range nodes {
			nd.Stop(killGrace)
		}
		os.RemoveAll(dir)
		log.Fatalf(format, args...)
	}
	for _, name := range []string{"a", "b"} {
		data := filepath.Join(dir, name)
		if err := os.Mkdir(data, 0o755); err != nil {
			fatalf("%v", err)
		}
		nd, err := nsqdproc.Start(nsqdproc.Options{Bin: *nsqdBin, DataDir: data})
		if err != nil {
			fatalf("%v", err)
		}
		nodes = append(nodes, nd)
		fmt.Printf("nsqd %s listening on %s (HTTP %s)\n", name, nd.TCPAddr, nd.HTTPAddr)
	}

	const topic = "demo"
	args := []string{"--topic", topic, "--balance", "--nsqd-tcp-address", nodes[0].TCPAddr, "--nsqd-tcp-address", nodes[1].TCPAddr}
	fmt.Printf("\n$ nsqpub %s < %d records\n", strings.Join(args, " "), *n)
	elapsed, err := publish(*nsqpubBin, args, 0, *n)
	if err != nil {
		fatalf("%v", err)
	}
	var total int64
	counts := make([]int64, len(nodes))
	for i, nd := range nodes {
		if counts[i], err = messageCount(nd.HTTPAddr, topic); err != nil {
			fatalf("%v", err)
		}
		total += counts[i]
		fmt.Printf("nsqd %c (%s): message_count=%d (%.1f%%)\n", 'a'+i, nd.TCPAddr, counts[i], 100*float64(counts[i])/float64(*n))
	}
	fmt.Printf("published %d records with %s --balance in %v; the two nsqd confirm %d in total\n",
		*n, *nsqpubBin, elapsed.Round(time.Millisecond), total)
	if total != int64(*n) {
		fatalf("the two nsqd hold %d messages, want %d", total, *n)
	}

	// Kill b: the pool skips it and sends everything to a.
	m := max(*n/10, 1)
	nodes[1].Kill()
	fmt.Printf("\nnsqd b killed\n$ nsqpub %s < %d more records\n", strings.Join(args, " "), m)
	if _, err := publish(*nsqpubBin, args, *n, m); err != nil {
		fatalf("%v", err)
	}
	a, err := messageCount(nodes[0].HTTPAddr, topic)
	if err != nil {
		fatalf("%v", err)
	}
	fmt.Printf("nsqd a (%s): message_count=%d (+%d): every record confirmed with one nsqd down\n", nodes[0].TCPAddr, a, a-counts[0])
	if a != counts[0]+int64(m) {
		fatalf("nsqd a holds %d messages, want %d", a, counts[0]+int64(m))
	}
	for _, nd := range nodes {
		if err := nd.Stop(killGrace); err != nil {
			fatalf("%v", err)
		}
	}
	os.RemoveAll(dir)
}

// publish runs nsqpub with args, feeding it records first..first+count-1
// as JSON lines, and returns how long it took. nsqpub's summary goes to
// standard error; a non-zero exit is an error.
func publish(bin string, args []string, first, count int) (time.Duration, error) {
	cmd := exec.Command(bin, args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", bin, err)
	}
	w := bufio.NewWriter(in)
	for i := first; i < first+count; i++ {
		fmt.Fprintf(w, `{"event":"demo","seq":%d}`+"\n", i)
	}
	w.Flush()
	in.Close()
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("nsqpub: %w", err)
	}
	return time.Since(start), nil
}

// messageCount reads the topic's message_count from /stats; a topic that
// got no message at all does not exist yet, which is a count of 0.
func messageCount(httpAddr, topic string) (int64, error) {
	n, err := nsqdproc.MessageCount(http.DefaultClient, httpAddr, topic)
	if errors.Is(err, nsqdproc.ErrNoTopic) {
		return 0, nil
	}
	return n, err
}
