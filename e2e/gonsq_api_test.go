package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGoNSQAPICompiles builds compat/gonsqapi, which names every
// producer-side identifier of go-nsq v1.1.0, against go-nsq (the control)
// and against nsqpub with only the import path changed.
func TestGoNSQAPICompiles(t *testing.T) {
	const program = "compat/gonsqapi/main.go"
	src, err := os.ReadFile(program)
	if err != nil {
		t.Fatal(err)
	}
	const from, to = `nsq "github.com/nsqio/go-nsq"`, `nsq "github.com/nsqpub/nsqpub"`
	if bytes.Count(src, []byte(from)) != 1 {
		t.Fatalf("%s does not import %s once", program, from)
	}
	dir := t.TempDir()
	swapped := filepath.Join(dir, "main.go")
	if err := os.WriteFile(swapped, bytes.Replace(src, []byte(from), []byte(to), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(program)
	if err != nil {
		t.Fatal(err)
	}
	overlay, err := json.Marshal(map[string]any{"Replace": map[string]string{abs: swapped}})
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct{ name, overlay string }{{"go-nsq", ""}, {"nsqpub", overlayFile}} {
		t.Run(v.name, func(t *testing.T) {
			args := []string{"build", "-o", filepath.Join(dir, v.name)}
			if v.overlay != "" {
				args = append(args, "-overlay", v.overlay)
			}
			out, err := exec.Command("go", append(args, "./compat/gonsqapi")...).CombinedOutput()
			if err != nil {
				t.Fatalf("building %s against %s: %v\n%s", program, v.name, err, out)
			}
		})
	}
}
