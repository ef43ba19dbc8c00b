package nsqpub

import (
	"errors"
	"flag"
	"io"
	"testing"
	"time"
)

// TestConfigFlag: each -opt on a command line sets one option through
// Config.Set, "option,value" or "option" alone for true, as go-nsq's
// ConfigFlag does.
func TestConfigFlag(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(c *Config) bool
		err   error
	}{
		{"value", []string{"-opt", "dial_timeout,3s"}, func(c *Config) bool { return c.DialTimeout == 3*time.Second }, nil},
		{"bool alone", []string{"-opt", "snappy"}, func(c *Config) bool { return c.Snappy }, nil},
		{"several", []string{"-opt", "deflate", "-opt", "deflate_level,3", "-opt", "client_id,a,b"},
			func(c *Config) bool { return c.Deflate && c.DeflateLevel == 3 && c.ClientID == "a,b" }, nil},
		{"unknown option", []string{"-opt", "no_such_option,1"}, nil, ErrInvalidConfig},
		{"non-bool alone", []string{"-opt", "dial_timeout"}, nil, ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewConfig()
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			fs.Var(&ConfigFlag{cfg}, "opt", "a Config option")
			err := fs.Parse(tt.args)
			if tt.err != nil {
				// flag quotes the error; Set returns it wrapped.
				if setErr := (&ConfigFlag{cfg}).Set(tt.args[1]); err == nil || !errors.Is(setErr, tt.err) {
					t.Fatalf("Parse = %v, Set = %v, want %v", err, setErr, tt.err)
				}
				return
			}
			if err != nil || !tt.check(cfg) {
				t.Fatalf("Parse = %v, Config %+v", err, cfg)
			}
		})
	}
	if s := (&ConfigFlag{NewConfig()}).String(); s != "" {
		t.Errorf("String = %q, want \"\"", s)
	}
}
