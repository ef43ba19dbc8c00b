package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"time"
)

// Input tuning.
const (
	// readBufSize is the input buffer; longer records are read in pieces.
	readBufSize = 64 << 10
	// chunkSize and chunkBytes bound what the reader hands over at once
	// (a chunk also goes out as soon as no more input is buffered).
	chunkSize  = 256
	chunkBytes = 1 << 20
	// slabSize and slabMax: records up to slabMax bytes are copied into
	// shared slabs of slabSize bytes, to save one allocation per record.
	slabSize = 64 << 10
	slabMax  = 4 << 10
)

// record is one non-empty record of the input.
type record struct {
	src  string // the input it came from: a file name or "stdin"
	num  int    // 1-based position in src, counting empty records
	body []byte // its bytes, a private copy, cut to the splitter's keep
	size int    // its length
	acks int    // the sinks that acknowledged it (the publisher's goroutine only)
}

// where names r in a message, with its length when only a part was kept.
func (r *record) where() string {
	if len(r.body) < r.size {
		return fmt.Sprintf("%s record %d (%d bytes, of which nsqpub kept %d)", r.src, r.num, r.size, len(r.body))
	}
	return fmt.Sprintf("%s record %d", r.src, r.num)
}

// chunk is what the reader hands to the publisher: records, or an error
// about one input.
type chunk struct {
	recs []record
	err  error
	at   time.Time // when the reader had the records: the rate schedule's view of the input
}

// splitter cuts delimited records out of a buffered input.
type splitter struct {
	br    *bufio.Reader
	delim byte
	keep  int    // the bytes kept of a record; longer ones are measured, and cut
	slab  []byte // shared backing store for short records
}

// next returns the next record, without its delimiter, and its length.
// The record is a copy that is never written again. A record longer than
// keep is consumed whole but returned cut to its first keep bytes, with
// its true length. A final record with no delimiter is returned whole;
// then next returns io.EOF. On a read error the partial record is dropped
// and the error returned.
func (s *splitter) next() (rec []byte, n int, err error) {
	var long []byte // the record so far, when it spans several reads
	for first := true; ; first = false {
		frag, err := s.br.ReadSlice(s.delim)
		if err == nil {
			frag = frag[:len(frag)-1]
		}
		n += len(frag)
		switch {
		case err != nil && err != bufio.ErrBufferFull && err != io.EOF:
			return nil, 0, err
		case err == io.EOF && n == 0:
			return nil, 0, io.EOF
		case first && err != bufio.ErrBufferFull:
			return s.copyOf(frag[:min(len(frag), s.keep)]), n, nil
		}
		long = append(long, frag[:min(len(frag), s.keep-len(long))]...)
		if err != bufio.ErrBufferFull {
			return long, n, nil
		}
	}
}

// copyOf returns a copy of b, carved out of the current slab when b is short.
func (s *splitter) copyOf(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if len(b) > slabMax {
		return append([]byte(nil), b...)
	}
	if len(s.slab)+len(b) > cap(s.slab) {
		s.slab = make([]byte, 0, slabSize)
	}
	start := len(s.slab)
	s.slab = append(s.slab, b...)
	return s.slab[start:len(s.slab):len(s.slab)]
}

// readInputs reads the named inputs in order ("-" is stdin; none means
// stdin), splits them into records and sends them on out in chunks, then
// closes out. An input that cannot be opened or read is reported as a chunk
// with an error and the next one is read. It returns early once quit is
// closed. Records longer than keep bytes are cut to keep (see splitter).
func readInputs(inputs []string, stdin io.Reader, delim byte, keep int, out chan<- chunk, quit <-chan struct{}) {
	defer close(out)
	send := func(c chunk) bool {
		select {
		case out <- c:
			return true
		case <-quit:
			return false
		}
	}
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	for _, name := range inputs {
		if name == "-" {
			if !readInput(stdin, "stdin", delim, keep, send) {
				return
			}
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			if !send(chunk{err: err}) {
				return
			}
			continue
		}
		ok := readInput(f, name, delim, keep, send)
		f.Close()
		if !ok {
			return
		}
	}
}

// readInput splits r, named src, into records and sends them in chunks: a
// chunk goes out when it is full (chunkSize records or chunkBytes bytes) or
// when no more input is buffered, so that a slow input's records are
// published as they come. It reports false if send did (the publisher has
// gone).
func readInput(r io.Reader, src string, delim byte, keep int, send func(chunk) bool) bool {
	sp := &splitter{br: bufio.NewReaderSize(r, readBufSize), delim: delim, keep: keep}
	recs := make([]record, 0, chunkSize)
	size := 0 // bytes kept by recs
	for num := 1; ; num++ {
		body, n, err := sp.next()
		if n > 0 {
			recs = append(recs, record{src: src, num: num, body: body, size: n})
			size += len(body)
		}
		if err != nil {
			if len(recs) > 0 && !send(chunk{recs: recs, at: time.Now()}) {
				return false
			}
			if err != io.EOF {
				return send(chunk{err: fmt.Errorf("reading %s: %w", src, err)})
			}
			return true
		}
		if len(recs) > 0 && (len(recs) == cap(recs) || size >= chunkBytes || sp.br.Buffered() == 0) {
			if !send(chunk{recs: recs, at: time.Now()}) {
				return false
			}
			recs, size = make([]record, 0, chunkSize), 0
		}
	}
}
