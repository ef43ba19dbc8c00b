package e2e

// go-nsq's own producer tests, run against nsqpub.
//
// The test takes producer_test.go of go-nsq v1.1.0 from the module cache at
// test time (it is not part of this repository), rewrites its package
// clause and adds one import line (a dot import of the library under test),
// points its nsqd address at a test nsqd, and writes it with a small
// plumbing file into a temporary package inside the e2e module, where
// `go test -race` runs it. go-nsq itself, built from the same rewrite, is
// the control. The file is `package nsq` and names everything unqualified:
// the producer side (NewConfig, NewProducer, ProducerTransaction,
// ErrStopped, ErrIdentify, LogLevelInfo, Config fields) resolves to the
// library under test; the consumer side its readMessages uses to check what
// arrived (NewConsumer, Consumer, Message) comes from go-nsq through the
// plumbing, as does nullLogger, which go-nsq declares in consumer_test.go.

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// goNSQProducerTests are the tests of go-nsq v1.1.0's producer_test.go that
// talk to nsqd; every one must pass.
var goNSQProducerTests = []string{
	"TestProducerConnection",
	"TestProducerPing",
	"TestProducerPublish",
	"TestProducerMultiPublish",
	"TestProducerPublishAsync",
	"TestProducerMultiPublishAsync",
	"TestProducerHeartbeat",
}

// goNSQDroppedDecls are the declarations of producer_test.go that are left
// out: BenchmarkProducer and the mock connection it installs reach into
// go-nsq's unexported internals (p.conn, p.state, p.router, producerConn,
// framedResponse), so they compile against go-nsq's own package only, and
// they do not talk to nsqd. Methods of mockProducerConn go with it.
var goNSQDroppedDecls = []string{"BenchmarkProducer", "mockProducerConn", "newMockProducerConn"}

// goNSQTestAddr is the nsqd address go-nsq's tests dial; it is replaced by
// the test nsqd's, whose port is free for sure.
const goNSQTestAddr = "127.0.0.1:4150"

// suiteTimeout bounds one `go test` of the rewritten suite, compiling
// included.
const suiteTimeout = 10 * time.Minute

// goNSQSuiteVariants are the libraries the suite runs against: go-nsq, the
// control, and nsqpub. plumbing is the second file of the package.
var goNSQSuiteVariants = []struct {
	name, importPath, plumbing string
}{
	{"go-nsq", "github.com/nsqio/go-nsq", goNSQPlumbing},
	{"nsqpub", "github.com/nsqpub/nsqpub", nsqpubPlumbing},
}

// goNSQPlumbing is what the suite needs besides go-nsq when go-nsq is the
// library under test: the null logger from go-nsq's consumer_test.go.
const goNSQPlumbing = `package gonsqsuite

import (
	"io"
	"log"
)

// nullLogger discards what it is given.
var nullLogger = log.New(io.Discard, "", log.LstdFlags)
`

// nsqpubPlumbing is what the suite needs besides nsqpub: the null logger,
// and go-nsq's consumer, which readMessages uses to read back what the
// producer published. NewConsumer takes the library's Config (the suite
// builds it with the producer's NewConfig) and copies the fields
// readMessages sets into a go-nsq Config; Consumer wraps go-nsq's so that
// SetLogger takes the library's LogLevel.
const nsqpubPlumbing = `package gonsqsuite

import (
	"io"
	"log"

	gonsq "github.com/nsqio/go-nsq"
	"github.com/nsqpub/nsqpub"
)

// nullLogger discards what it is given.
var nullLogger = log.New(io.Discard, "", log.LstdFlags)

// Message is go-nsq's consumed message.
type Message = gonsq.Message

// Consumer is go-nsq's Consumer with a SetLogger that takes nsqpub's level.
type Consumer struct{ *gonsq.Consumer }

// SetLogger sets the consumer's logger at the same level.
func (c *Consumer) SetLogger(l *log.Logger, lvl nsqpub.LogLevel) {
	c.Consumer.SetLogger(l, gonsq.LogLevel(lvl))
}

// NewConsumer returns a go-nsq Consumer configured from the fields of cfg
// that go-nsq's producer tests set for their consumer.
func NewConsumer(topic, channel string, cfg *nsqpub.Config) (*Consumer, error) {
	c := gonsq.NewConfig()
	c.DefaultRequeueDelay = cfg.DefaultRequeueDelay
	c.MaxBackoffDuration = cfg.MaxBackoffDuration
	q, err := gonsq.NewConsumer(topic, channel, c)
	if err != nil {
		return nil, err
	}
	return &Consumer{q}, nil
}
`

// TestGoNSQProducerSuite runs go-nsq v1.1.0's producer tests against nsqpub
// and, as the control, against go-nsq, each against its own nsqd started
// with the TLS flags of go-nsq's test.sh (certificates generated here), and
// requires every one of them to pass.
func TestGoNSQProducerSuite(t *testing.T) {
	src := goNSQProducerTestSource(t)
	pki := newTestPKI(t)
	for _, v := range goNSQSuiteVariants {
		t.Run(v.name, func(t *testing.T) {
			n := startNSQD(t, "--tls-cert="+pki.ServerCert, "--tls-key="+pki.ServerKey, "--tls-root-ca-file="+pki.CAFile)
			test, err := rewriteGoNSQProducerTests(src, v.importPath, n.TCPAddr)
			if err != nil {
				t.Fatal(err)
			}
			out, err := runSuite(t, map[string][]byte{"producer_test.go": test, "plumbing_test.go": []byte(v.plumbing)})
			results := suiteResults(out)
			var failed []string
			for _, name := range goNSQProducerTests {
				if results[name] != "PASS" {
					failed = append(failed, fmt.Sprintf("%s: %s", name, orElse(results[name], "not run")))
				}
			}
			passed := len(goNSQProducerTests) - len(failed)
			t.Logf("RESULT go-nsq producer suite against %s: %d of %d pass", v.name, passed, len(goNSQProducerTests))
			if err != nil || len(failed) > 0 || len(results) != len(goNSQProducerTests) {
				t.Errorf("go test: %v; want all of %v to pass and nothing else to run, got %v; failing: %v\noutput:\n%s",
					err, goNSQProducerTests, results, failed, out)
			}
		})
	}
}

// orElse returns s, or otherwise when s is empty.
func orElse(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

// goNSQProducerTestSource reads producer_test.go of the go-nsq in the
// module cache, the version e2e's go.mod requires.
func goNSQProducerTestSource(t *testing.T) []byte {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/nsqio/go-nsq").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/nsqio/go-nsq: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "producer_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// rewriteGoNSQProducerTests returns go-nsq's producer_test.go as package
// gonsqsuite with a dot import of importPath, addr in place of every
// goNSQTestAddr, the goNSQDroppedDecls left out and the imports only they
// used removed. Everything else is as go-nsq wrote it.
func rewriteGoNSQProducerTests(src []byte, importPath, addr string) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "producer_test.go", src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	if f.Name.Name != "nsq" {
		return nil, fmt.Errorf("producer_test.go is package %s, want nsq", f.Name.Name)
	}
	f.Name.Name = "gonsqsuite"

	dropped := map[string]bool{}
	var dropRanges [][2]token.Pos
	f.Decls = slices.DeleteFunc(f.Decls, func(d ast.Decl) bool {
		name := declName(d)
		if !slices.Contains(goNSQDroppedDecls, name) {
			return false
		}
		dropped[name] = true
		dropRanges = append(dropRanges, [2]token.Pos{d.Pos(), d.End()})
		return true
	})
	for _, name := range goNSQDroppedDecls {
		if !dropped[name] {
			return nil, fmt.Errorf("producer_test.go has no %s to leave out", name)
		}
	}
	// The comments inside what was left out go with it.
	f.Comments = slices.DeleteFunc(f.Comments, func(c *ast.CommentGroup) bool {
		return slices.ContainsFunc(dropRanges, func(r [2]token.Pos) bool { return c.Pos() >= r[0] && c.End() <= r[1] })
	})

	addrs := 0
	used := map[string]bool{}
	ast.Inspect(f, func(node ast.Node) bool {
		switch x := node.(type) {
		case *ast.BasicLit:
			if x.Kind == token.STRING && x.Value == strconv.Quote(goNSQTestAddr) {
				x.Value = strconv.Quote(addr)
				addrs++
			}
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	if addrs == 0 {
		return nil, fmt.Errorf("producer_test.go never dials %s", goNSQTestAddr)
	}

	// Drop the imports nothing uses any more and add the dot import, in the
	// import declaration and in the file's import list.
	imports := f.Decls[0].(*ast.GenDecl)
	if imports.Tok != token.IMPORT {
		return nil, fmt.Errorf("producer_test.go does not start with its imports")
	}
	imports.Specs = slices.DeleteFunc(imports.Specs, func(s ast.Spec) bool {
		path, _ := strconv.Unquote(s.(*ast.ImportSpec).Path.Value)
		return !used[filepath.Base(path)]
	})
	dot := &ast.ImportSpec{Name: ast.NewIdent("."), Path: &ast.BasicLit{Kind: token.STRING, Value: strconv.Quote(importPath)}}
	imports.Specs = append(imports.Specs, dot)
	f.Imports = nil
	for _, s := range imports.Specs {
		f.Imports = append(f.Imports, s.(*ast.ImportSpec))
	}

	var out bytes.Buffer
	if err := format.Node(&out, fset, f); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// declName returns the name a top-level declaration declares: a function's
// name, a method's receiver type, a type's name; "" for anything else.
func declName(d ast.Decl) string {
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil {
			return d.Name.Name
		}
		typ := d.Recv.List[0].Type
		if star, ok := typ.(*ast.StarExpr); ok {
			typ = star.X
		}
		if id, ok := typ.(*ast.Ident); ok {
			return id.Name
		}
	case *ast.GenDecl:
		if d.Tok == token.TYPE && len(d.Specs) == 1 {
			return d.Specs[0].(*ast.TypeSpec).Name.Name
		}
	}
	return ""
}

// runSuite writes files into a new package directory inside the e2e module
// (so that its go.mod, go.sum and replace apply; the directory name starts
// with "_", which ./... patterns and git ignore), runs `go test -race
// -count=1 -v` there and returns the output. The directory is removed
// afterwards. Vet is off: it is go-nsq's code, written before vet's printf
// check refused t.Fatalf(err.Error()) in modules of this Go version.
func runSuite(t *testing.T, files map[string][]byte) (string, error) {
	t.Helper()
	dir, err := os.MkdirTemp(".", "_gonsqsuite-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "test", "-race", "-count=1", "-vet=off", "-v", "-timeout", "5m", "./"+filepath.Base(dir)).CombinedOutput()
	return string(out), err
}

// suiteResultLine is a result line of `go test -v`.
var suiteResultLine = regexp.MustCompile(`(?m)^\s*--- (PASS|FAIL|SKIP): (\S+)`)

// suiteResults returns each test's result (PASS, FAIL or SKIP) in the
// output of `go test -v`.
func suiteResults(out string) map[string]string {
	res := map[string]string{}
	for _, m := range suiteResultLine.FindAllStringSubmatch(out, -1) {
		res[m[2]] = m[1]
	}
	return res
}
