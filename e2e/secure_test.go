package e2e

// End-to-end tests of secure and compressed connections against the real
// nsqd v1.3.0: TLS (with and without client certificates), AUTH through a
// small auth server run by the test, deflate and snappy, and the errors a
// misconfiguration produces. Certificates are generated here with
// crypto/x509 and written to t.TempDir(); nothing is committed.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	nsq "github.com/nsqio/go-nsq"
	"github.com/nsqpub/nsqpub"
)

// secureDialTimeout is the producers' DialTimeout in these tests: TLS and
// AUTH (nsqd asks the auth server) on a loaded 2-core machine under -race
// can take longer than the 1 s default.
const secureDialTimeout = 10 * time.Second

// Secrets known to the test auth server (see newAuthServer).
const (
	pubSecret     = "pub-secret"    // may publish to topics matching ^ok\..+$
	subSecret     = "sub-secret"    // may subscribe to them (for go-nsq's Consumer)
	noAuthzSecret = "no-authz"      // known, but granted nothing
	wrongSecret   = "not-a-secret"  // unknown: the auth server answers 403
	allowedPrefix = "ok."           // topics the secrets above are about
	deniedPrefix  = "no."           // topics nobody may publish to
	clientCN      = "nsqpub-client" // common name of the client certificate
	authIdentity  = "publisher"     // identity the auth server gives pubSecret
	authURL       = "http://x/publisher"
)

// ---------------------------------------------------------------------------
// Certificates

// testPKI is a CA with a server certificate for 127.0.0.1, ::1 and localhost
// and a client certificate, plus a second, unrelated CA with its own client
// certificate. Every certificate is also written as PEM into a temporary
// directory for nsqd and for go-nsq-style Set options.
type testPKI struct {
	CAFile, ServerCert, ServerKey, ClientCert, ClientKey string // PEM files

	CAPool      *x509.CertPool  // trusts the test CA
	OtherPool   *x509.CertPool  // trusts only the unrelated CA
	Client      tls.Certificate // signed by the test CA, CN clientCN
	OtherClient tls.Certificate // signed by the unrelated CA
}

// testCA is a certificate authority that issues certificates in memory.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

// newTestCA returns a self-signed CA valid for an hour around now.
func newTestCA(t testing.TB, name string) *testCA {
	t.Helper()
	tmpl := certTemplate(t, name)
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	der, key := sign(t, tmpl, nil)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, der: der}
}

// issue returns a leaf certificate signed by ca, as PEM, for the given
// names and usage.
func (ca *testCA) issue(t testing.TB, cn string, dns []string, ips []net.IP, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	tmpl := certTemplate(t, cn)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
	tmpl.DNSNames, tmpl.IPAddresses = dns, ips
	der, key := sign(t, tmpl, ca)
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
}

// certTemplate returns a certificate template for common name cn, with a
// random serial number, valid for an hour around now.
func certTemplate(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	return &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
}

// sign creates the certificate of tmpl for a new key, signed by ca, or by
// the new key itself when ca is nil, and returns it (DER) with the key.
func sign(t testing.TB, tmpl *x509.Certificate, ca *testCA) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key := newKey(t)
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// pool returns a pool trusting only ca.
func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// newTestPKI generates the certificates and writes the PEM files.
func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	pair := func(certPEM, keyPEM []byte) tls.Certificate {
		t.Helper()
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca, other := newTestCA(t, "nsqpub test CA"), newTestCA(t, "unrelated CA")
	srvCert, srvKey := ca.issue(t, "nsqd", []string{"localhost"},
		[]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, x509.ExtKeyUsageServerAuth)
	cliCert, cliKey := ca.issue(t, clientCN, nil, nil, x509.ExtKeyUsageClientAuth)
	othCert, othKey := other.issue(t, "stranger", nil, nil, x509.ExtKeyUsageClientAuth)
	return &testPKI{
		CAFile:      write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.der})),
		ServerCert:  write("server.pem", srvCert),
		ServerKey:   write("server-key.pem", srvKey),
		ClientCert:  write("client.pem", cliCert),
		ClientKey:   write("client-key.pem", cliKey),
		CAPool:      ca.pool(),
		OtherPool:   other.pool(),
		Client:      pair(cliCert, cliKey),
		OtherClient: pair(othCert, othKey),
	}
}

// ---------------------------------------------------------------------------
// Auth server

// authServer is the HTTP auth server nsqd queries (reference §4.3, §4.4).
// It answers GET /auth per secret with bare JSON and records every query.
type authServer struct {
	Addr string // host:port for --auth-http-address

	mu      sync.Mutex
	queries []url.Values
}

// newAuthServer starts the auth server on 127.0.0.1:0; it is closed when
// the test ends.
func newAuthServer(t testing.TB) *authServer {
	t.Helper()
	a := &authServer{}
	grant := func(identity, permission string) map[string]any {
		return map[string]any{
			"ttl": 3600, "identity": identity, "identity_url": "http://x/" + identity,
			"authorizations": []map[string]any{{
				"topic":       "^" + strings.ReplaceAll(allowedPrefix, ".", `\.`) + ".+$",
				"channels":    []string{".*"}, // a publish check uses the empty channel name
				"permissions": []string{permission},
			}},
		}
	}
	replies := map[string]map[string]any{
		pubSecret:     grant(authIdentity, "publish"),
		subSecret:     grant("subscriber", "subscribe"),
		noAuthzSecret: {"ttl": 3600, "identity": "nobody", "authorizations": []any{}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		a.mu.Lock()
		a.queries = append(a.queries, q)
		a.mu.Unlock()
		reply, ok := replies[q.Get("secret")]
		if r.URL.Path != "/auth" || !ok {
			http.Error(w, `{"message":"unknown secret"}`, http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(reply)
	}))
	t.Cleanup(srv.Close)
	a.Addr = strings.TrimPrefix(srv.URL, "http://")
	return a
}

// queried reports whether nsqd asked about secret from 127.0.0.1 over a
// connection with (tlsOn) or without TLS.
func (a *authServer) queried(secret string, tlsOn bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, q := range a.queries {
		if q.Get("secret") == secret && q.Get("tls") == fmt.Sprint(tlsOn) && q.Get("remote_ip") == "127.0.0.1" {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Servers

// secureServers are the nsqd instances the secure tests share.
type secureServers struct {
	pki  *testPKI
	auth *authServer

	plain    *nsqd // no certificate at all: TLS is never granted
	tls      *nsqd // TLS required on TCP (tcp-https), no client certificate
	mtls     *nsqd // TLS required on TCP and a client certificate signed by the CA
	authd    *nsqd // AUTH through the auth server, no TLS
	tlsAuthd *nsqd // TLS required on TCP and AUTH
}

// startSecureServers starts every nsqd the secure tests use.
//
// --tls-client-auth-policy forces --tls-required=true only when
// --tls-required is left unset (nsqd.New: `if policy != "" && TLSRequired ==
// TLSNotRequired`), so passing --tls-required=tcp-https as well keeps plain
// HTTP /stats open; startNSQD's /ping proves it (with true it would answer
// 403 TLS_REQUIRED).
func startSecureServers(t *testing.T) *secureServers {
	t.Helper()
	s := &secureServers{pki: newTestPKI(t), auth: newAuthServer(t)}
	cert := []string{"--tls-cert=" + s.pki.ServerCert, "--tls-key=" + s.pki.ServerKey}
	tlsReq := append(cert, "--tls-required=tcp-https")
	s.plain = startNSQD(t)
	s.tls = startNSQD(t, tlsReq...)
	s.mtls = startNSQD(t, append(cert, "--tls-client-auth-policy=require-verify",
		"--tls-root-ca-file="+s.pki.CAFile, "--tls-required=tcp-https")...)
	s.authd = startNSQD(t, "--auth-http-address="+s.auth.Addr)
	s.tlsAuthd = startNSQD(t, append(tlsReq, "--auth-http-address="+s.auth.Addr)...)
	return s
}

// tlsConfig returns a client TLS configuration trusting the test CA, with
// the client certificate if withCert.
func (s *secureServers) tlsConfig(withCert bool) *tls.Config {
	c := &tls.Config{RootCAs: s.pki.CAPool}
	if withCert {
		c.Certificates = []tls.Certificate{s.pki.Client}
	}
	return c
}

// ---------------------------------------------------------------------------
// Messages

// testBody is one message of a secure test: its body and its digest.
type testBody struct {
	body []byte
	sum  [32]byte
}

// makeBodies returns n distinct message bodies of mixed sizes, generated
// from seed: 16 one-byte bodies, then bodies starting with a unique
// "#<6 hex digits>:" id, mostly 8 B–1 KiB, every tenth 1–32 KiB and every
// 250th 256 KiB–1 MiB (exactly 1 MiB, nsqd's default --max-msg-size, among
// them). Half of each kind repeat a line of text (very compressible), the
// other half are random bytes; random bodies larger than randomLimit (if
// not 0) are made compressible instead.
//
// The limit is for deflate: under -race, compress/flate at level 6 manages
// about 0.5 MB/s on random input (5 MB/s on text), which would make a full
// mix take a minute.
func makeBodies(seed uint64, n, randomLimit int) []testBody {
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var seedBytes [32]byte
	binary.LittleEndian.PutUint64(seedBytes[:], seed)
	random := mrand.NewChaCha8(seedBytes)
	bigSizes := []int{1 << 20, 1<<20 - 1, 900 << 10, 700 << 10, 512 << 10, 400 << 10, 300 << 10, 256 << 10}
	const text = "nsqpub squeezes this line very well; "
	out := make([]testBody, n)
	for i := range out {
		var b []byte
		switch {
		case i < 16:
			b = []byte{byte('A' + i)}
		default:
			size := 8 + rng.IntN(1017)
			switch {
			case i%250 == 125:
				size = bigSizes[(i/250)%len(bigSizes)]
			case i%10 == 5:
				size = 1<<10 + rng.IntN(31<<10)
			}
			b = make([]byte, size)
			copy(b, fmt.Sprintf("#%06x:", i))
			if i%4 < 2 || randomLimit > 0 && size > randomLimit {
				for j := 8; j < size; j += copy(b[j:], text) {
				}
			} else {
				random.Read(b[8:])
			}
		}
		out[i] = testBody{body: b, sum: sha256.Sum256(b)}
	}
	return out
}

// publishAll publishes bodies to topic, a third each with Publish (in order,
// from one goroutine), PublishAsync and MultiPublish (batches of up to 50
// within nsqd's default --max-body-size), all three at once.
func publishAll(t testing.TB, p *nsqpub.Producer, topic string, bodies []testBody) {
	t.Helper()
	var syncBodies, async, multi [][]byte
	for i, b := range bodies {
		switch i % 3 {
		case 0:
			syncBodies = append(syncBodies, b.body)
		case 1:
			async = append(async, b.body)
		default:
			multi = append(multi, b.body)
		}
	}
	errs := make(chan error, 3)
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, b := range syncBodies {
			if err := p.Publish(topic, b); err != nil {
				errs <- fmt.Errorf("Publish of %d bytes: %w", len(b), err)
				return
			}
		}
	})
	wg.Go(func() {
		done := make(chan *nsqpub.ProducerTransaction, len(async))
		for i, b := range async {
			if err := p.PublishAsync(topic, b, done, i); err != nil {
				errs <- fmt.Errorf("PublishAsync: %w", err)
				return
			}
		}
		for range async {
			if tr := <-done; tr.Error != nil {
				errs <- fmt.Errorf("PublishAsync %v: %w", tr.Args, tr.Error)
				return
			}
		}
	})
	wg.Go(func() {
		const maxBody = nsqpub.DefaultMaxBodySize
		for len(multi) > 0 {
			n, size := 0, 4
			for n < len(multi) && n < 50 && size+4+len(multi[n]) <= maxBody {
				size += 4 + len(multi[n])
				n++
			}
			if err := p.MultiPublish(topic, multi[:n]); err != nil {
				errs <- fmt.Errorf("MultiPublish of %d messages (%d bytes): %w", n, size, err)
				return
			}
			multi = multi[n:]
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// consumeBodies reads topic/ch back with go-nsq's Consumer configured by cfg
// (TLS, client certificate, AUTH as the server demands) until every body of
// want has arrived, failing on an unknown or duplicate body or after
// consumeTimeout.
func consumeBodies(t testing.TB, n *nsqd, cfg *nsq.Config, topic string, want []testBody) {
	t.Helper()
	index := make(map[[32]byte]int, len(want))
	for i, b := range want {
		index[b.sum] = i
	}
	cfg.MaxInFlight = 1000
	var (
		seen = make([]bool, len(want))
		got  int
		bad  []string
	)
	handle := func(m *nsq.Message, _ time.Time) {
		i, ok := index[sha256.Sum256(m.Body)]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("unknown body of %d bytes %.12q", len(m.Body), m.Body))
		case seen[i]:
			bad = append(bad, fmt.Sprintf("body %d (%d bytes) delivered twice", i, len(m.Body)))
		default:
			seen[i] = true
			got++
		}
	}
	consumeUntil(t, n, topic, "ch", cfg, consumeTimeout, handle, func() bool { return got == len(want) })
	if len(bad) > 0 || got != len(want) {
		var missing []int
		for i, s := range seen {
			if !s && len(missing) < 10 {
				missing = append(missing, i)
			}
		}
		t.Fatalf("consumer got %d of %d bodies; problems %q; first missing %v (%s)",
			got, len(want), bad, missing, n.describe(topic))
	}
}

// ---------------------------------------------------------------------------
// Tests

// TestSecure runs every combination of TLS, client certificate, AUTH,
// deflate and snappy against the real nsqd, then the error cases. The nsqd
// instances are shared; subtests run in parallel.
func TestSecure(t *testing.T) {
	s := startSecureServers(t)
	t.Run("combinations", func(t *testing.T) { testSecureCombinations(t, s) })
	t.Run("errors", func(t *testing.T) { testSecureErrors(t, s) })
}

// producerFlags is what /stats reports about a producer's connection.
type producerFlags struct{ TLS, Snappy, Deflate, Authed bool }

// testSecureCombinations publishes a few thousand bodies per combination
// with Publish, PublishAsync and MultiPublish, checks the connection's
// upgrades in /stats producers[] and reads every body back with go-nsq.
func testSecureCombinations(t *testing.T, s *secureServers) {
	const perCase = 2400
	cases := []struct {
		name   string
		server *nsqd
		cfg    func(t *testing.T) *nsqpub.Config // the producer's
		sub    *nsq.Config                       // the consumer's
		want   producerFlags
		prefix string // topic name prefix (the auth server allows ok.*)
		// randomLimit caps the size of random bodies (see makeBodies).
		randomLimit int
	}{{
		name: "plain", server: s.plain,
		cfg: func(*testing.T) *nsqpub.Config { return &nsqpub.Config{} },
	}, {
		name: "TLS", server: s.tls, want: producerFlags{TLS: true},
		cfg: func(*testing.T) *nsqpub.Config {
			return &nsqpub.Config{TlsV1: true, TlsConfig: s.tlsConfig(false)}
		},
		sub: &nsq.Config{TlsV1: true, TlsConfig: s.tlsConfig(false)},
	}, {
		// Configured as a go-nsq program would, through Set and files.
		name: "TLS+client cert", server: s.mtls, want: producerFlags{TLS: true},
		cfg: func(t *testing.T) *nsqpub.Config {
			c := nsqpub.NewConfig()
			for _, o := range [][2]string{{"tls_v1", "true"}, {"tls_root_ca_file", s.pki.CAFile},
				{"tls_cert", s.pki.ClientCert}, {"tls_key", s.pki.ClientKey}, {"tls_min_version", "tls1.2"}} {
				if err := c.Set(o[0], o[1]); err != nil {
					t.Fatal(err)
				}
			}
			return c
		},
		sub: &nsq.Config{TlsV1: true, TlsConfig: s.tlsConfig(true)},
	}, {
		// nsqd clamps level 9 to its --max-deflate-level 6.
		name: "deflate", server: s.plain, want: producerFlags{Deflate: true}, randomLimit: 4 << 10,
		cfg: func(*testing.T) *nsqpub.Config { return &nsqpub.Config{Deflate: true, DeflateLevel: 9} },
	}, {
		name: "snappy", server: s.plain, want: producerFlags{Snappy: true},
		cfg: func(*testing.T) *nsqpub.Config { return &nsqpub.Config{Snappy: true} },
	}, {
		name: "TLS+snappy", server: s.tls, want: producerFlags{TLS: true, Snappy: true},
		cfg: func(*testing.T) *nsqpub.Config {
			return &nsqpub.Config{TlsV1: true, TlsConfig: s.tlsConfig(false), Snappy: true}
		},
		sub: &nsq.Config{TlsV1: true, TlsConfig: s.tlsConfig(false)},
	}, {
		name: "TLS+deflate", server: s.tls, want: producerFlags{TLS: true, Deflate: true}, randomLimit: 64 << 10,
		cfg: func(*testing.T) *nsqpub.Config {
			return &nsqpub.Config{TlsV1: true, TlsConfig: s.tlsConfig(false), Deflate: true, DeflateLevel: 1}
		},
		sub: &nsq.Config{TlsV1: true, TlsConfig: s.tlsConfig(false)},
	}, {
		name: "AUTH", server: s.authd, want: producerFlags{Authed: true}, prefix: allowedPrefix,
		cfg: func(*testing.T) *nsqpub.Config { return &nsqpub.Config{AuthSecret: pubSecret} },
		sub: &nsq.Config{AuthSecret: subSecret},
	}, {
		name: "TLS+AUTH", server: s.tlsAuthd, want: producerFlags{TLS: true, Authed: true}, prefix: allowedPrefix,
		cfg: func(*testing.T) *nsqpub.Config {
			return &nsqpub.Config{TlsV1: true, TlsConfig: s.tlsConfig(false), AuthSecret: pubSecret}
		},
		sub: &nsq.Config{TlsV1: true, TlsConfig: s.tlsConfig(false), AuthSecret: subSecret},
	}, {
		// Beyond the list: AUTH travels through the compression layer.
		name: "AUTH+deflate", server: s.authd, want: producerFlags{Deflate: true, Authed: true}, prefix: allowedPrefix,
		randomLimit: 64 << 10,
		cfg: func(*testing.T) *nsqpub.Config {
			return &nsqpub.Config{AuthSecret: pubSecret, Deflate: true, DeflateLevel: 1}
		},
		sub: &nsq.Config{AuthSecret: subSecret},
	}, {
		name: "TLS+AUTH+snappy", server: s.tlsAuthd, want: producerFlags{TLS: true, Snappy: true, Authed: true}, prefix: allowedPrefix,
		cfg: func(*testing.T) *nsqpub.Config {
			return &nsqpub.Config{TlsV1: true, TlsConfig: s.tlsConfig(false), Snappy: true, AuthSecret: pubSecret}
		},
		sub: &nsq.Config{TlsV1: true, TlsConfig: s.tlsConfig(false), AuthSecret: subSecret},
	}}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			topic := tc.prefix + topicName(t)
			cfg := tc.cfg(t)
			cfg.DialTimeout = secureDialTimeout
			p := newProducer(t, tc.server, cfg)
			bodies := makeBodies(uint64(i+1), perCase, tc.randomLimit)
			start := time.Now()
			publishAll(t, p, topic, bodies)
			elapsed := time.Since(start)
			waitMessageCount(t, tc.server, topic, perCase)

			prods := publishersOf(t, tc.server, topic)
			if len(prods) != 1 {
				t.Fatalf("%d producer connections in /stats, want 1: %+v", len(prods), prods)
			}
			ps := prods[0]
			if got := (producerFlags{ps.TLS, ps.Snappy, ps.Deflate, ps.Authed}); got != tc.want {
				t.Errorf("/stats producer flags %+v, want %+v", got, tc.want)
			}
			if len(ps.PubCounts) != 1 || ps.PubCounts[0] != (pubCount{topic, perCase}) {
				t.Errorf("/stats pub_counts %+v, want %d on %s", ps.PubCounts, perCase, topic)
			}
			if !strings.HasPrefix(ps.UserAgent, "nsqpub/") {
				t.Errorf("/stats user agent %q", ps.UserAgent)
			}
			// No MaxVersion cap: Go negotiates TLS 1.3 with nsqd.
			if tc.want.TLS && ps.TLSVersion != "TLS1.3" {
				t.Errorf("/stats tls_version %q, want TLS1.3", ps.TLSVersion)
			}
			if tc.want.Authed {
				if ps.AuthIdentity != authIdentity {
					t.Errorf("/stats auth_identity %q, want %q", ps.AuthIdentity, authIdentity)
				}
				info := p.AuthInfo()
				if info == nil || *info != (nsqpub.AuthInfo{Identity: authIdentity, IdentityURL: authURL, PermissionCount: 1}) {
					t.Errorf("AuthInfo() = %+v", info)
				}
				if !s.auth.queried(pubSecret, tc.want.TLS) {
					t.Errorf("the auth server never saw %q with tls=%v", pubSecret, tc.want.TLS)
				}
			} else if info := p.AuthInfo(); info != nil {
				t.Errorf("AuthInfo() = %+v without AUTH", info)
			}

			sub := tc.sub
			if sub == nil {
				sub = &nsq.Config{}
			}
			consumeBodies(t, tc.server, consumerConfig(t, sub), topic, bodies)
			var total int
			for _, b := range bodies {
				total += len(b.body)
			}
			t.Logf("%d messages, %.1f MiB, published in %v", perCase, float64(total)/(1<<20), elapsed.Round(time.Millisecond))
		})
	}
}

// publishersOf returns the /stats producers[] entries of the connections
// that published to topic. (nsqd lists every connected producer whatever
// the topic filter, only narrowing pub_counts, and these tests share nsqds.)
func publishersOf(t testing.TB, n *nsqd, topic string) []producerStats {
	t.Helper()
	var out []producerStats
	for _, ps := range n.TopicProducers(t, topic) {
		for _, pc := range ps.PubCounts {
			if pc.Topic == topic {
				out = append(out, ps)
				break
			}
		}
	}
	return out
}

// consumerConfig returns a go-nsq Config with the defaults of NewConfig
// and the connection settings of c.
func consumerConfig(t testing.TB, c *nsq.Config) *nsq.Config {
	t.Helper()
	cfg := nsq.NewConfig()
	cfg.TlsV1, cfg.TlsConfig, cfg.AuthSecret = c.TlsV1, c.TlsConfig, c.AuthSecret
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// testSecureErrors checks what a misconfigured producer gets: a clear error
// that says what is wrong, promptly, never a hang.
func testSecureErrors(t *testing.T, s *secureServers) {
	t.Run("TLS", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name   string
			server *nsqd
			tls    *tls.Config
			check  func(error) bool
		}{{
			name: "wrong CA", server: s.tls, tls: &tls.Config{RootCAs: s.pki.OtherPool},
			check: func(err error) bool {
				var ve *tls.CertificateVerificationError
				var ua x509.UnknownAuthorityError
				return errors.As(err, &ve) && errors.As(err, &ua)
			},
		}, {
			name: "system roots only", server: s.tls, tls: nil,
			check: func(err error) bool {
				var ua x509.UnknownAuthorityError
				return errors.As(err, &ua)
			},
		}, {
			name: "server name mismatch", server: s.tls, tls: &tls.Config{RootCAs: s.pki.CAPool, ServerName: "nsqd.example"},
			check: func(err error) bool {
				var he x509.HostnameError
				return errors.As(err, &he)
			},
		}, {
			// TLS 1.3: the client's handshake completes, nsqd's fails,
			// and its alert arrives with the first read (the upgrade OK).
			name: "missing client cert", server: s.mtls, tls: &tls.Config{RootCAs: s.pki.CAPool},
			check: func(err error) bool { return strings.Contains(err.Error(), "tls: certificate required") },
		}, {
			// Given in Certificates, crypto/tls would not even send it (it
			// is not signed by a CA nsqd names), so force it.
			name: "client cert from another CA", server: s.mtls,
			tls: &tls.Config{RootCAs: s.pki.CAPool, GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return &s.pki.OtherClient, nil
			}},
			check: func(err error) bool {
				return strings.Contains(err.Error(), "remote error: tls: unknown certificate authority")
			},
		}}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				p := newProducer(t, tc.server, &nsqpub.Config{TlsV1: true, TlsConfig: tc.tls, DialTimeout: secureDialTimeout})
				start := time.Now()
				err := p.Publish(allowedPrefix+topicName(t), []byte("never"))
				took := time.Since(start)
				if err == nil || !errors.Is(err, nsqpub.ErrNotConnected) || !tc.check(err) {
					t.Fatalf("Publish = %v, want ErrNotConnected with the TLS error", err)
				}
				if took > secureDialTimeout/2 {
					t.Errorf("took %v: the failure should be immediate, not a timeout", took)
				}
				t.Logf("error after %v: %v", took.Round(time.Millisecond), err)
			})
		}
	})

	t.Run("plain client on TLS-required nsqd", func(t *testing.T) {
		t.Parallel()
		for _, n := range []*nsqd{s.tls, s.mtls} {
			p := newProducer(t, n, &nsqpub.Config{DialTimeout: secureDialTimeout})
			err := p.Publish(topicName(t), []byte("plain"))
			var se *nsqpub.ServerError
			if !errors.As(err, &se) || se.Code != "E_INVALID" || se.Message != "cannot PUB in current state (TLS required)" {
				t.Fatalf("Publish = %v, want *ServerError E_INVALID ... (TLS required)", err)
			}
			t.Logf("error: %v", err)
		}
	})

	t.Run("TLS asked, server has none", func(t *testing.T) {
		t.Parallel()
		// nsqd without a certificate answers tls_v1:false and the
		// connection stays plain (as go-nsq does); the library logs a
		// warning. Set TlsConfig and watch the log, or use
		// --tls-required on the server, to refuse plain connections.
		topic := topicName(t)
		p := newProducer(t, s.plain, &nsqpub.Config{TlsV1: true, TlsConfig: s.tlsConfig(false), DialTimeout: secureDialTimeout})
		lg := logEvents(p, nsqpub.LogLevelWarning)
		if err := p.Publish(topic, []byte("in clear")); err != nil {
			t.Fatal(err)
		}
		lg.wait(t, "TLS requested but nsqd did not grant it", 1)
		prods := publishersOf(t, s.plain, topic)
		if len(prods) != 1 || prods[0].TLS {
			t.Fatalf("/stats producers %+v, want one plain connection", prods)
		}
	})

	t.Run("AUTH", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name, secret, code, msg string
		}{
			{"wrong secret", wrongSecret, "E_AUTH_FAILED", "AUTH failed"},
			{"no authorizations", noAuthzSecret, "E_UNAUTHORIZED", "AUTH no authorizations found"},
		}
		for _, tc := range cases {
			for _, n := range []*nsqd{s.authd, s.tlsAuthd} {
				p := newProducer(t, n, &nsqpub.Config{AuthSecret: tc.secret, DialTimeout: secureDialTimeout,
					TlsV1: n == s.tlsAuthd, TlsConfig: s.tlsConfig(false)})
				err := p.Publish(allowedPrefix+topicName(t), []byte("never"))
				var se *nsqpub.ServerError
				if !errors.As(err, &se) || se.Code != tc.code || se.Message != tc.msg || !errors.Is(err, nsqpub.ErrNotConnected) {
					t.Fatalf("%s: Publish = %v, want ErrNotConnected and *ServerError %s %s", tc.name, err, tc.code, tc.msg)
				}
				t.Logf("%s: %v", tc.name, err)
			}
		}
	})

	t.Run("AUTH topic not allowed", func(t *testing.T) {
		t.Parallel()
		p := newProducer(t, s.tlsAuthd, &nsqpub.Config{AuthSecret: pubSecret, TlsV1: true,
			TlsConfig: s.tlsConfig(false), DialTimeout: secureDialTimeout})
		denied, allowed := deniedPrefix+topicName(t), allowedPrefix+topicName(t)
		for _, pub := range []struct {
			cmd  string
			call func() error
		}{
			{"PUB", func() error { return p.Publish(denied, []byte("x")) }},
			{"MPUB", func() error { return p.MultiPublish(denied, [][]byte{[]byte("x"), []byte("y")}) }},
			{"DPUB", func() error { return p.DeferredPublish(denied, time.Second, []byte("x")) }},
		} {
			err := pub.call()
			var se *nsqpub.ServerError
			want := fmt.Sprintf("AUTH failed for %s on %q \"\"", pub.cmd, denied)
			if !errors.As(err, &se) || se.Code != "E_UNAUTHORIZED" || se.Message != want {
				t.Fatalf("%s to a denied topic = %v, want *ServerError E_UNAUTHORIZED %s", pub.cmd, err, want)
			}
			t.Logf("%s: %v", pub.cmd, err)
			// nsqd closed the connection; the next publish reconnects.
			if err := p.Publish(allowed, []byte(pub.cmd)); err != nil {
				t.Fatalf("publish to the allowed topic after the refusal: %v", err)
			}
		}
		waitMessageCount(t, s.tlsAuthd, allowed, 3)
		if !s.auth.queried(pubSecret, true) {
			t.Errorf("the auth server never saw %q with tls=true", pubSecret)
		}
	})

	t.Run("AUTH required, no secret", func(t *testing.T) {
		t.Parallel()
		p := newProducer(t, s.authd, &nsqpub.Config{DialTimeout: secureDialTimeout})
		err := p.Publish(allowedPrefix+topicName(t), []byte("never"))
		if err == nil || !errors.Is(err, nsqpub.ErrNotConnected) || !strings.Contains(err.Error(), "AuthSecret") {
			t.Fatalf("Publish = %v, want ErrNotConnected naming AuthSecret", err)
		}
		t.Logf("error: %v", err)
	})

	t.Run("AUTH secret, server without AUTH", func(t *testing.T) {
		t.Parallel()
		// nsqd says auth_required:false, so no AUTH is sent.
		topic := topicName(t)
		p := newProducer(t, s.plain, &nsqpub.Config{AuthSecret: pubSecret, DialTimeout: secureDialTimeout})
		if err := p.Publish(topic, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if info := p.AuthInfo(); info != nil {
			t.Fatalf("AuthInfo() = %+v, want nil", info)
		}
		if prods := publishersOf(t, s.plain, topic); len(prods) != 1 || prods[0].Authed {
			t.Fatalf("/stats producers %+v", prods)
		}
	})

	t.Run("invalid compression config", func(t *testing.T) {
		t.Parallel()
		for name, cfg := range map[string]*nsqpub.Config{
			"deflate level 10": {Deflate: true, DeflateLevel: 10},
			"deflate level -1": {Deflate: true, DeflateLevel: -1},
		} {
			verr := cfg.Validate()
			_, nerr := nsqpub.NewProducer(s.plain.TCPAddr, cfg)
			if !errors.Is(verr, nsqpub.ErrInvalidConfig) || !errors.Is(nerr, nsqpub.ErrInvalidConfig) {
				t.Errorf("%s: Validate = %v, NewProducer = %v, want ErrInvalidConfig", name, verr, nerr)
			}
			t.Logf("%s: %v", name, nerr)
		}
	})
}
