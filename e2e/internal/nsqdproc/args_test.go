package nsqdproc

import (
	"slices"
	"strings"
	"testing"
)

func TestLastFlag(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		flag      string
		wantValue string
		wantOK    bool
	}{
		{"absent", []string{"--other=1"}, "log-level", "", false},
		{"double dash and equals", []string{"--log-level=debug"}, "log-level", "debug", true},
		{"single dash and equals", []string{"-log-level=warn"}, "log-level", "warn", true},
		{"separate value", []string{"--data-path", "/d"}, "data-path", "/d", true},
		{"last one wins", []string{"--x=1", "-x", "2", "--x=3"}, "x", "3", true},
		{"empty value", []string{"--http-address="}, "http-address", "", true},
		{"no value after the name", []string{"--data-path"}, "data-path", "", false},
		{"a prefix is another flag", []string{"--log-level-extra=1"}, "log-level", "", false},
		{"a separate value may start with a dash", []string{"--x", "-1"}, "x", "-1", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, ok := LastFlag(c.args, c.flag)
			if v != c.wantValue || ok != c.wantOK {
				t.Errorf("LastFlag(%q, %q) = %q, %v; want %q, %v", c.args, c.flag, v, ok, c.wantValue, c.wantOK)
			}
		})
	}
}

func TestCommandLine(t *testing.T) {
	defaults := []string{"--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
		"--https-address=127.0.0.1:0", "--data-path=/data", "--log-level=info"}
	cases := []struct {
		name    string
		dataDir string
		extra   []string
		want    []string
		wantErr string
	}{
		{"defaults only", "/data", nil, defaults, ""},
		{"extra flags follow", "/data", []string{"--mem-queue-size=5", "--log-level=DEBUG"},
			append(slices.Clone(defaults), "--mem-queue-size=5", "--log-level=DEBUG"), ""},
		{"no data directory", "", nil, nil, "no data directory"},
		{"log level hides the ports", "/data", []string{"-log-level", "warn"}, nil, "--log-level=warn"},
		{"HTTP API off", "/data", []string{"--http-address="}, nil, "--http-address"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := commandLine(c.dataDir, c.extra)
			switch {
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
			case c.wantErr == "" && err != nil:
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("args %q, want %q", got, c.want)
			}
		})
	}
}
