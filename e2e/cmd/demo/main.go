// Command demo starts a real nsqd on loopback, pipes a stream of records
// through the nsqpub command into it, and prints how many messages nsqd
// holds. `make demo` runs it.
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
	tcp, httpAddr, stop := startNSQD(*nsqdBin, dir)
	defer stop()
	fmt.Printf("nsqd listening on %s (HTTP %s)\n", tcp, httpAddr)

	const topic = "demo"
	cmd := exec.Command(*nsqpubBin, "--topic", topic, "--nsqd-tcp-address", tcp)
	in, err := cmd.StdinPipe()
	if err != nil {
		log.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriter(in)
	for i := 0; i < *n; i++ {
		fmt.Fprintf(w, `{"event":"demo","seq":%d}`+"\n", i)
	}
	w.Flush()
	in.Close()
	if err := cmd.Wait(); err != nil {
		log.Fatalf("nsqpub: %v", err)
	}
	elapsed := time.Since(start)
	count := messageCount(httpAddr, topic)
	fmt.Printf("published %d records with %s in %v; nsqd reports message_count=%d for topic %q\n",
		*n, *nsqpubBin, elapsed.Round(time.Millisecond), count, topic)
	if count != int64(*n) {
		log.Fatalf("nsqd holds %d messages, want %d", count, *n)
	}
}

// startNSQD runs nsqd on free loopback ports and returns its addresses and
// a function that stops it.
func startNSQD(bin, dir string) (tcp, httpAddr string, stop func()) {
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
	re := regexp.MustCompile(`(TCP|HTTP): listening on (\S+)`)
	sc := bufio.NewScanner(out)
	for (tcp == "" || httpAddr == "") && sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			if m[1] == "TCP" {
				tcp = m[2]
			} else {
				httpAddr = m[2]
			}
		}
	}
	if tcp == "" || httpAddr == "" {
		cmd.Process.Kill()
		log.Fatal("nsqd did not report its ports")
	}
	go io.Copy(io.Discard, out)
	return tcp, httpAddr, func() { cmd.Process.Kill(); cmd.Wait() }
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
