// Package s3test starts a real S3-compatible server (versitygw with its
// posix backend) for tests, and reads back what was written to it.
//
// Start finds versitygw ($VERSITYGW, PATH, $(go env GOPATH)/bin or the
// test tool cache) and, when it is nowhere, builds it once with the go
// command into $(go env GOCACHE)/auditstream-tools (see [Binary]). It
// never skips: a test that needs the server fails when it cannot have it.
package s3test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/auditstream/auditstream/internal/syncbuf"
	"github.com/auditstream/auditstream/internal/versitygw"
)

// The server's fixed credentials and region.
const (
	AccessKey = "AUDITSTREAMTEST"
	SecretKey = "auditstream-test-secret-0123456789"
	Region    = "us-east-1"
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is the server's base URL (http:// or https://127.0.0.1:port,
	// or Options.Host's address).
	Endpoint string
	// Root is the posix backend's directory: each directory in it is a
	// bucket.
	Root string
	// HTTPClient trusts the server's certificate (TLS servers); plain
	// http.DefaultClient otherwise.
	HTTPClient *http.Client

	t    testing.TB
	logs *syncbuf.Buffer
}

// Options change how the server starts.
type Options struct {
	// TLS serves HTTPS with a fresh self-signed certificate for 127.0.0.1.
	TLS bool
	// Host is the local address to listen on, 127.0.0.1 when empty (e.g.
	// a veth address that a node in a network namespace can reach).
	Host string
}

// Start runs versitygw on a free loopback (or opts.Host) port with a
// posix backend on a temporary directory, waits until it answers, and
// stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	s := &Server{Root: root, t: t, logs: &syncbuf.Buffer{}, HTTPClient: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}}
	o := versitygw.Options{Root: root, AccessKey: AccessKey, SecretKey: SecretKey, HTTPClient: s.HTTPClient, Output: s.logs, Host: opts.Host}
	if opts.TLS {
		var pool *x509.CertPool
		o.CertFile, o.KeyFile, pool = selfSigned(t)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		s.HTTPClient = &http.Client{Transport: tr}
		o.HTTPClient = s.HTTPClient
	}
	p, err := versitygw.Start(t.Context(), bin, o)
	if err != nil {
		t.Fatalf("%v:\n%s", err, s.logs.String())
	}
	s.Endpoint = p.Endpoint
	t.Cleanup(func() {
		p.Stop()
		s.HTTPClient.CloseIdleConnections()
		if t.Failed() {
			t.Logf("versitygw output:\n%s", s.logs.String())
		}
	})
	return s
}

// CreateBucket makes a bucket (a directory of the posix backend).
func (s *Server) CreateBucket(name string) {
	s.t.Helper()
	if err := os.Mkdir(filepath.Join(s.Root, name), 0o755); err != nil {
		s.t.Fatal(err)
	}
}

// Client returns an SDK client for the server, with path-style addressing
// and checksums only where required.
func (s *Server) Client() *s3api.Client {
	return versitygw.Client(s.Endpoint, Region, AccessKey, SecretKey, s.HTTPClient)
}

// Keys lists every key under prefix in bucket, sorted.
func (s *Server) Keys(ctx context.Context, bucket, prefix string) []string {
	s.t.Helper()
	var keys []string
	p := s3api.NewListObjectsV2Paginator(s.Client(), &s3api.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			s.t.Fatalf("list s3://%s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	slices.Sort(keys)
	return keys
}

// Get returns an object's bytes and Content-Type.
func (s *Server) Get(ctx context.Context, bucket, key string) ([]byte, string) {
	s.t.Helper()
	out, err := s.Client().GetObject(ctx, &s3api.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		s.t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return b, aws.ToString(out.ContentType)
}

// selfSigned writes a certificate and key for 127.0.0.1 and returns their
// files and a pool that trusts the certificate.
func selfSigned(t testing.TB) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// String describes the server for test logs.
func (s *Server) String() string { return fmt.Sprintf("versitygw at %s (root %s)", s.Endpoint, s.Root) }
