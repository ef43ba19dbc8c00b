package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nsqio/go-nsq"
	"github.com/nsqpub/nsqpub"
)

// goNSQOptions returns every option name go-nsq's Config.Set accepts: the
// opt tags of its Config, and the TLS pseudo-options of its TLS handler.
func goNSQOptions() []string {
	var names []string
	typ := reflect.TypeOf(nsq.Config{})
	for i := range typ.NumField() {
		if opt := typ.Field(i).Tag.Get("opt"); opt != "" {
			names = append(names, opt)
		}
	}
	return append(names, "tls_root_ca_file", "tls_insecure_skip_verify", "tls_cert", "tls_key", "tls_min_version")
}

// goNSQSet calls go-nsq's Set, turning its panics (it panics on some wrongly
// typed values, where nsqpub returns an error) into errors.
func goNSQSet(c *nsq.Config, option string, value any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return c.Set(option, value)
}

// optionField is the Config field an option sets, by go-nsq's field name.
func optionField(option string) string {
	if strings.HasPrefix(option, "tls_") && option != "tls_v1" {
		return "TlsConfig"
	}
	typ := reflect.TypeOf(nsq.Config{})
	for i := range typ.NumField() {
		if typ.Field(i).Tag.Get("opt") == option {
			return typ.Field(i).Name
		}
	}
	return ""
}

// sameField reports whether go-nsq's field g and nsqpub's field p hold the
// same setting, and if not, how they differ.
func sameField(option string, g, p reflect.Value) (bool, string) {
	switch gv := g.Interface().(type) {
	case net.Addr:
		pv, _ := p.Interface().(net.Addr)
		return pv != nil && gv.String() == pv.String(), fmt.Sprintf("%v, nsqpub %v", gv, pv)
	case nsq.BackoffStrategy:
		gt, pt := reflect.TypeOf(gv).Elem().Name(), reflect.TypeOf(p.Interface()).Elem().Name()
		return gt == pt, gt + ", nsqpub " + pt
	case *tls.Config:
		pv := p.Interface().(*tls.Config)
		if gv == nil || pv == nil {
			return gv == pv, fmt.Sprintf("%p, nsqpub %p", gv, pv)
		}
		// go-nsq's new TLS settings default to TLS 1.0–1.2; nsqpub's to Go's
		// own defaults. Only what the option set is compared.
		same := gv.InsecureSkipVerify == pv.InsecureSkipVerify && (gv.RootCAs == nil) == (pv.RootCAs == nil) &&
			len(gv.Certificates) == len(pv.Certificates) && (option != "tls_min_version" || gv.MinVersion == pv.MinVersion)
		return same, fmt.Sprintf("%+v, nsqpub %+v", gv, pv)
	case float64:
		pv := p.Interface().(float64)
		return gv == pv || math.IsNaN(gv) && math.IsNaN(pv), fmt.Sprintf("%v, nsqpub %v", gv, pv)
	}
	return reflect.DeepEqual(g.Interface(), p.Interface()), fmt.Sprintf("%#v, nsqpub %#v", g.Interface(), p.Interface())
}

// TestConfigSetMatchesGoNSQ: for every option name go-nsq's Set accepts and
// values of every type, nsqpub's Set accepts exactly what go-nsq's accepts,
// and sets the field to the same value.
func TestConfigSetMatchesGoNSQ(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "config CA")
	certPEM, keyPEM := ca.issue(t, "client", nil, nil, x509.ExtKeyUsageClientAuth)
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caFile := write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.der}))
	certFile, keyFile := write("cert.pem", certPEM), write("key.pem", keyPEM)
	junkFile := write("junk.pem", []byte("not PEM"))

	values := []any{
		"", "0", "1", "-1", "5", "9", "10", "99", "100", "1000", "65536", "0.3", "1.5", "-0.5", "NaN",
		"true", "false", "t", "yes", "2s", "99ms", "100ms", "1m", "5m", "5m1s", "60m", "61m", "-1s",
		"exponential", "full_jitter", "linear", "127.0.0.1:4150", "nonsense",
		"ssl3.0", "tls1.0", "tls1.1", "tls1.2", "TLS1.2", "tls1.4", caFile, certFile, keyFile, junkFile,
		0, 1, -1, 5, 9, 10, 99, 100, 1000, 5000, 1 << 40,
		int8(1), int16(2), int32(3), int64(4), uint(5), uint8(6), uint16(7), uint32(8), uint64(9), int64(-20),
		0.0, 0.3, 1.5, float32(0.5), math.NaN(),
		true, false,
		time.Duration(0), time.Duration(-1), 50 * time.Millisecond, time.Second, 90 * time.Second, time.Hour, -time.Second,
		nil, []int{1}, struct{}{}, &tls.Config{ServerName: "x"}, tls.Config{},
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, &nsq.ExponentialStrategy{}, &nsqpub.FullJitterStrategy{},
	}
	// nsqpub accepts tls1.3, which go-nsq v1.1.0 predates.
	extension := func(option string, value any) bool { return option == "tls_min_version" && value == "tls1.3" }

	agreed := 0
	for _, option := range goNSQOptions() {
		field := optionField(option)
		if field == "" {
			t.Fatalf("no field for %q", option)
		}
		for _, value := range append(values, "tls1.3") {
			g, p := nsq.NewConfig(), nsqpub.NewConfig()
			gerr, perr := goNSQSet(g, option, value), p.Set(option, value)
			if perr != nil && !errors.Is(perr, nsqpub.ErrInvalidConfig) {
				t.Errorf("Set(%q, %#v) = %v, not an ErrInvalidConfig", option, value, perr)
			}
			if (gerr == nil) != (perr == nil) {
				if !extension(option, value) {
					t.Errorf("Set(%q, %#v): go-nsq %v, nsqpub %v", option, value, gerr, perr)
				}
				continue
			}
			agreed++
			if gerr != nil {
				continue
			}
			gv := reflect.ValueOf(g).Elem().FieldByName(field)
			pv := reflect.ValueOf(p).Elem().FieldByName(field)
			if same, diff := sameField(option, gv, pv); !same {
				t.Errorf("Set(%q, %#v): %s %s", option, value, field, diff)
			}
		}
	}

	// A key pair given in two Sets, in either order; dashes for underscores.
	for _, seq := range [][2][2]string{{{"tls_cert", certFile}, {"tls_key", keyFile}}, {{"tls-key", keyFile}, {"tls-cert", certFile}}} {
		g, p := nsq.NewConfig(), nsqpub.NewConfig()
		for _, kv := range seq {
			if gerr, perr := goNSQSet(g, kv[0], kv[1]), p.Set(kv[0], kv[1]); gerr != nil || perr != nil {
				t.Fatalf("Set(%q): go-nsq %v, nsqpub %v", kv[0], gerr, perr)
			}
		}
		if len(g.TlsConfig.Certificates) != 1 || len(p.TlsConfig.Certificates) != 1 {
			t.Errorf("%v: certificates go-nsq %d, nsqpub %d", seq, len(g.TlsConfig.Certificates), len(p.TlsConfig.Certificates))
		}
	}
	t.Logf("RESULT %d options × %d values: go-nsq and nsqpub agreed on %d", len(goNSQOptions()), len(values)+1, agreed)
}

// TestConfigValidateMatchesGoNSQ: starting from NewConfig, a field set to a
// value at, inside or outside go-nsq's range gets a Producer from nsqpub
// wherever go-nsq's Validate accepts it, and an ErrInvalidConfig wherever
// go-nsq refuses it, except that a zero nsqpub reads as the default.
func TestConfigValidateMatchesGoNSQ(t *testing.T) {
	durations := []time.Duration{-time.Second, -1, 0, time.Millisecond, 9 * time.Millisecond, 10 * time.Millisecond,
		99 * time.Millisecond, 100 * time.Millisecond, 999 * time.Millisecond, time.Second, 5 * time.Second,
		5*time.Second + 1, 30 * time.Second, time.Minute, 90 * time.Second, 5 * time.Minute, 5*time.Minute + 1,
		time.Hour, time.Hour + 1, 100 * time.Hour}
	ints := []int64{-1, 0, 1, 9, 10, 63, 64, 99, 100, 1000, 16384, 1 << 40}
	floats := []float64{-0.1, 0, 0.3, 1, 1.1, math.NaN()}
	type edit struct {
		field string
		value any
	}
	var cases [][]edit
	typ := reflect.TypeOf(nsq.Config{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Tag.Get("opt") == "" {
			continue
		}
		var vals []any
		switch f.Type.Kind() {
		case reflect.Int64, reflect.Int, reflect.Int32:
			if f.Type == reflect.TypeOf(time.Duration(0)) {
				for _, d := range durations {
					vals = append(vals, d)
				}
				break
			}
			for _, n := range ints {
				vals = append(vals, reflect.ValueOf(n).Convert(f.Type).Interface())
			}
		case reflect.Uint16:
			vals = []any{uint16(0), uint16(5), uint16(65535)}
		case reflect.Float64:
			for _, x := range floats {
				vals = append(vals, x)
			}
		case reflect.Bool:
			vals = []any{true, false}
		}
		for _, v := range vals {
			cases = append(cases, []edit{{f.Name, v}})
		}
	}
	cases = append(cases,
		[]edit{{"Deflate", true}, {"Snappy", true}},
		[]edit{{"HeartbeatInterval", 90 * time.Second}, {"ReadTimeout", 2 * time.Minute}},
		[]edit{{"HeartbeatInterval", 5 * time.Minute}, {"ReadTimeout", 5 * time.Minute}},
		[]edit{{"HeartbeatInterval", time.Second}, {"ReadTimeout", 100 * time.Millisecond}},
		[]edit{{"HeartbeatInterval", time.Duration(-1)}, {"ReadTimeout", 100 * time.Millisecond}},
	)
	accepted := 0
	for _, c := range cases {
		g, p := nsq.NewConfig(), nsqpub.NewConfig()
		zero := false
		for _, e := range c {
			reflect.ValueOf(g).Elem().FieldByName(e.field).Set(reflect.ValueOf(e.value))
			reflect.ValueOf(p).Elem().FieldByName(e.field).Set(reflect.ValueOf(e.value))
			zero = zero || reflect.ValueOf(e.value).IsZero()
		}
		gerr := g.Validate()
		prod, perr := nsqpub.NewProducer("127.0.0.1:4150", p)
		if verr := p.Validate(); (verr == nil) != (perr == nil) {
			t.Errorf("%v: Validate %v but NewProducer %v", c, verr, perr)
		}
		switch {
		case gerr == nil && (perr != nil || prod == nil):
			t.Errorf("%v: go-nsq accepts, nsqpub: %v", c, perr)
		case gerr != nil && perr == nil && !zero:
			t.Errorf("%v: go-nsq refuses (%v), nsqpub accepts", c, gerr)
		case perr != nil && !errors.Is(perr, nsqpub.ErrInvalidConfig):
			t.Errorf("%v: %v is not an ErrInvalidConfig", c, perr)
		}
		if prod != nil {
			accepted++
			prod.Stop()
		}
	}
	t.Logf("RESULT %d configurations: nsqpub gave a Producer for %d, wherever go-nsq's Validate passed", len(cases), accepted)
}

// TestConfigJudgedByNSQD: the values nsqd judges by its own flags are sent
// as set and judged by nsqd, for nsqpub as for go-nsq: NewProducer accepts
// them, and the publish fails with nsqd's refusal of the IDENTIFY, or
// succeeds when nsqd's flags allow the value.
func TestConfigJudgedByNSQD(t *testing.T) {
	defaults := startNSQD(t)
	raised := startNSQD(t, "--max-heartbeat-interval=2m", "--max-output-buffer-timeout=1m",
		"--max-output-buffer-size=1048576", "--max-msg-timeout=20m")
	tests := []struct {
		name   string
		n      *nsqd
		edit   func(c *nsqpub.Config)
		refuse string // nsqd's refusal; empty for none
	}{
		{"heartbeat 100ms", defaults, func(c *nsqpub.Config) { c.HeartbeatInterval = 100 * time.Millisecond },
			"E_BAD_BODY IDENTIFY heartbeat interval (100) is invalid"},
		{"heartbeat 90s, nsqd's max 60s", defaults, func(c *nsqpub.Config) { c.HeartbeatInterval, c.ReadTimeout = 90*time.Second, 2*time.Minute },
			"E_BAD_BODY IDENTIFY heartbeat interval (90000) is invalid"},
		{"heartbeat 90s, nsqd's max 2m", raised, func(c *nsqpub.Config) { c.HeartbeatInterval, c.ReadTimeout = 90*time.Second, 2*time.Minute }, ""},
		{"heartbeat -1s", defaults, func(c *nsqpub.Config) { c.HeartbeatInterval = -time.Second },
			"E_BAD_BODY IDENTIFY heartbeat interval (-1000) is invalid"},
		{"output buffer timeout 31s, nsqd's max 30s", defaults, func(c *nsqpub.Config) { c.OutputBufferTimeout = 31 * time.Second },
			"E_BAD_BODY IDENTIFY output buffer timeout (31000) is invalid"},
		{"output buffer timeout 31s, nsqd's max 1m", raised, func(c *nsqpub.Config) { c.OutputBufferTimeout = 31 * time.Second }, ""},
		{"output buffer size 65537, nsqd's max 65536", defaults, func(c *nsqpub.Config) { c.OutputBufferSize = 65537 },
			"E_BAD_BODY IDENTIFY output buffer size (65537) is invalid"},
		{"output buffer size 65537, nsqd's max 1 MiB", raised, func(c *nsqpub.Config) { c.OutputBufferSize = 65537 }, ""},
		{"output buffer size 63", defaults, func(c *nsqpub.Config) { c.OutputBufferSize = 63 },
			"E_BAD_BODY IDENTIFY output buffer size (63) is invalid"},
		{"output buffer off", defaults, func(c *nsqpub.Config) { c.OutputBufferSize, c.OutputBufferTimeout = -1, -1 }, ""},
		{"msg timeout 16m, nsqd's max 15m", defaults, func(c *nsqpub.Config) { c.MsgTimeout = 16 * time.Minute },
			"E_BAD_BODY IDENTIFY msg timeout (960000) is invalid"},
		{"msg timeout 16m, nsqd's max 20m", raised, func(c *nsqpub.Config) { c.MsgTimeout = 16 * time.Minute }, ""},
		{"msg timeout 999ms", defaults, func(c *nsqpub.Config) { c.MsgTimeout = 999 * time.Millisecond },
			"E_BAD_BODY IDENTIFY msg timeout (999) is invalid"},
		{"sample rate 99", defaults, func(c *nsqpub.Config) { c.SampleRate = 99 }, ""},
		{"deflate and snappy", defaults, func(c *nsqpub.Config) { c.Deflate, c.Snappy = true, true },
			"E_IDENTIFY_FAILED cannot enable both deflate and snappy compression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := topicName(t)
			cfg := nsqpub.NewConfig()
			cfg.DialTimeout = 5 * time.Second
			tt.edit(cfg)
			p := newProducer(t, tt.n, cfg) // NewProducer accepts it
			err := p.Publish(topic, []byte("m"))

			g := nsq.NewConfig()
			g.DialTimeout = 5 * time.Second
			for _, f := range []string{"HeartbeatInterval", "ReadTimeout", "OutputBufferSize", "OutputBufferTimeout",
				"MsgTimeout", "SampleRate", "Deflate", "Snappy"} {
				reflect.ValueOf(g).Elem().FieldByName(f).Set(reflect.ValueOf(cfg).Elem().FieldByName(f))
			}
			gp, gerr := nsq.NewProducer(tt.n.TCPAddr, g)
			if gerr != nil {
				t.Fatalf("go-nsq NewProducer: %v", gerr)
			}
			gp.SetLogger(log.New(io.Discard, "", 0), nsq.LogLevelError)
			defer gp.Stop()
			gerr = gp.Publish(topic, []byte("g"))

			if tt.refuse == "" {
				if err != nil || gerr != nil {
					t.Fatalf("publish: nsqpub %v, go-nsq %v", err, gerr)
				}
				waitMessageCount(t, tt.n, topic, 2)
				return
			}
			if !errors.Is(err, nsqpub.ErrNotConnected) || !strings.Contains(err.Error(), tt.refuse) {
				t.Errorf("nsqpub publish: %v, want ErrNotConnected with %q", err, tt.refuse)
			}
			if gerr == nil || !strings.Contains(gerr.Error(), tt.refuse) {
				t.Errorf("go-nsq publish: %v, want %q", gerr, tt.refuse)
			}
		})
	}
}

// TestConfigIdentifyMatchesGoNSQ: for the same settings, nsqd decodes the
// same IDENTIFY from nsqpub as from go-nsq, as nsqd logs it.
func TestConfigIdentifyMatchesGoNSQ(t *testing.T) {
	n := startNSQD(t)
	tests := []map[string]any{
		{},
		{"heartbeat_interval": "5s", "output_buffer_size": 100, "output_buffer_timeout": "1s", "msg_timeout": "2m", "sample_rate": 42},
		{"heartbeat_interval": -1, "output_buffer_size": -1, "output_buffer_timeout": -1},
		{"heartbeat_interval": "100ms"},
		{"heartbeat_interval": "1500us", "output_buffer_timeout": "999us", "msg_timeout": "1s999ms"},
		{"deflate": true, "deflate_level": 3},
		{"snappy": true},
		{"deflate": true, "snappy": true},
		{"hostname": "host.example", "user_agent": "<agent & co>"},
	}
	for i, opts := range tests {
		g, p := nsq.NewConfig(), nsqpub.NewConfig()
		set := map[string]any{"client_id": fmt.Sprintf("case-%d", i), "user_agent": "ua/1", "dial_timeout": "5s"}
		for k, v := range opts {
			set[k] = v
		}
		for k, v := range set {
			if err := errors.Join(g.Set(k, v), p.Set(k, v)); err != nil {
				t.Fatal(err)
			}
		}
		gp, err := nsq.NewProducer(n.TCPAddr, g)
		if err != nil {
			t.Fatal(err)
		}
		gp.SetLogger(log.New(io.Discard, "", 0), nsq.LogLevelError)
		gerr := gp.Ping()
		gp.Stop()
		pp := newProducer(t, n, p)
		perr := pp.Ping()
		pp.Stop()
		if (gerr == nil) != (perr == nil) {
			t.Errorf("case %d %v: go-nsq %v, nsqpub %v", i, opts, gerr, perr)
		}
	}
	n.Stop() // after nsqd exits, its output is all in n.Output()
	seen := map[string][]string{}
	for _, line := range strings.Split(n.Output(), "\n") {
		if _, data, ok := strings.Cut(line, "] IDENTIFY: "); ok {
			id := strings.Fields(strings.TrimPrefix(data, "{ClientID:"))[0]
			seen[id] = append(seen[id], data)
		}
	}
	for i, opts := range tests {
		got := seen[fmt.Sprintf("case-%d", i)]
		if len(got) != 2 || got[0] != got[1] {
			t.Errorf("case %d %v: nsqd decoded\n%s", i, opts, strings.Join(got, "\n"))
		}
	}
	t.Logf("RESULT %d configurations: nsqd decoded the same IDENTIFY from go-nsq and nsqpub", len(tests))
}
