package nsqdproc

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// WantVersion is the nsqd release the project is tested and measured against.
const WantVersion = "nsqd v1.3.0"

// Version runs bin --version and returns what it printed, trimmed, and
// whether that is WantVersion.
func Version(bin string) (version string, want bool, err error) {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	version = strings.TrimSpace(string(out))
	if err != nil {
		return version, false, fmt.Errorf("%s --version: %w\n%s", bin, err, out)
	}
	return version, strings.HasPrefix(version, WantVersion+" "), nil
}

// commandLine returns nsqd's arguments: free loopback ports, dataDir and the
// info log level, followed by extra. It fails if extra hides what Start
// reads: the log lines that give the ports, or the HTTP API for /ping.
func commandLine(dataDir string, extra []string) ([]string, error) {
	if dataDir == "" {
		return nil, errors.New("nsqdproc: no data directory")
	}
	if lvl, ok := LastFlag(extra, "log-level"); ok && !strings.EqualFold(lvl, "info") && !strings.EqualFold(lvl, "debug") {
		return nil, fmt.Errorf("nsqdproc: --log-level=%s hides the INFO lines that give nsqd's ports; use info or debug", lvl)
	}
	if addr, ok := LastFlag(extra, "http-address"); ok && addr == "" {
		return nil, errors.New("nsqdproc: an empty --http-address turns off the HTTP API, which tells when nsqd is ready")
	}
	return append([]string{
		"--tcp-address=127.0.0.1:0",
		"--http-address=127.0.0.1:0",
		"--https-address=127.0.0.1:0",
		"--data-path=" + dataDir,
		"--log-level=info", // at warn the "listening on" lines are not printed
	}, extra...), nil
}

// lookupdCommandLine returns nsqlookupd's arguments: free loopback ports,
// 127.0.0.1 as the address it gives for itself, and the info log level,
// followed by extra. It fails if extra hides the log lines that give the
// ports.
func lookupdCommandLine(extra []string) ([]string, error) {
	if lvl, ok := LastFlag(extra, "log-level"); ok && !strings.EqualFold(lvl, "info") && !strings.EqualFold(lvl, "debug") {
		return nil, fmt.Errorf("nsqdproc: --log-level=%s hides the INFO lines that give nsqlookupd's ports; use info or debug", lvl)
	}
	return append([]string{
		"--tcp-address=127.0.0.1:0",
		"--http-address=127.0.0.1:0",
		"--broadcast-address=127.0.0.1",
		"--log-level=info",
	}, extra...), nil
}

// LastFlag returns the value of the last -name/--name flag in args, in any of
// the forms -name=v, --name=v, -name v and --name v.
func LastFlag(args []string, name string) (value string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		switch {
		case strings.HasPrefix(a, name+"="):
			value, ok = a[len(name)+1:], true
		case a == name && i+1 < len(args):
			i++
			value, ok = args[i], true
		}
	}
	return value, ok
}
