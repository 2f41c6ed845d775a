// Package versitygw finds and runs versitygw, the S3-compatible server
// with a posix backend that the tests (through package s3test) and the
// load tool (bench/load) write S3 objects to. It knows where an installed
// versitygw is, how to start one on a free loopback port and wait until
// it answers, and how to make an SDK client for it; it never builds one
// (s3test does, for tests) and imports no testing package.
package versitygw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/auditstream/auditstream/internal/gotool"
)

// Version is the versitygw release the project tests against; Package is
// its main package, for `go install Package@Version`.
const (
	Version = "v1.8.0"
	Package = "github.com/versity/versitygw/cmd/versitygw"
)

// Tool is versitygw as package gotool finds and builds it.
func Tool() gotool.Tool {
	return gotool.Tool{Name: "versitygw", Package: Package, Version: Version, Env: "VERSITYGW"}
}

// Lookup returns the installed versitygw that env (os.Getenv or a fake)
// points to: $VERSITYGW as it is, else versitygw on PATH, else
// versitygw in the bin directory of a $GOPATH entry ($HOME/go without
// GOPATH). The error wraps gotool.ErrNotFound and says how to install it.
func Lookup(env func(string) string) (string, error) { return Tool().Lookup(env) }

// Options say how to run versitygw.
type Options struct {
	// Root is the posix backend's directory (each directory in it is a
	// bucket); it must exist.
	Root string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string
	// CertFile and KeyFile, when set, make it serve HTTPS.
	CertFile, KeyFile string
	// HTTPClient asks for /health while it starts (it must trust the
	// certificate with TLS); http.DefaultClient when nil.
	HTTPClient *http.Client
	// Output receives versitygw's stdout and stderr; discarded when nil.
	// It is written from another goroutine.
	Output io.Writer
	// Host is the local address it listens on; 127.0.0.1 when empty.
	Host string
}

// startTimeout bounds how long versitygw may take to answer.
const startTimeout = 15 * time.Second

// Process is a running versitygw.
type Process struct {
	// Endpoint is its base URL, http:// or https://host:port (127.0.0.1
	// unless Options.Host says otherwise).
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
}

// Start runs bin on a free port of opts.Host (loopback by default) with
// opts and waits until it answers /health (at most 15 s), exits, or ctx
// ends; on an error nothing is left running.
func Start(ctx context.Context, bin string, opts Options) (*Process, error) {
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{"--port", addr, "--health", "/health", "--quiet"}
	scheme := "http"
	if opts.CertFile != "" {
		args = append(args, "--cert", opts.CertFile, "--key", opts.KeyFile)
		scheme = "https"
	}
	p := &Process{Endpoint: scheme + "://" + addr, done: make(chan struct{})}
	p.cmd = exec.Command(bin, append(args, "posix", opts.Root)...)
	p.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+opts.AccessKey, "ROOT_SECRET_ACCESS_KEY="+opts.SecretKey)
	p.cmd.Stdout, p.cmd.Stderr = opts.Output, opts.Output
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start versitygw: %w", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	hc := opts.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	deadline := time.Now().Add(startTimeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.Endpoint+"/health", nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, errors.New("versitygw exited at start")
		case <-ctx.Done():
			p.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("versitygw did not answer in %s (last error %v)", startTimeout, err)
		}
	}
}

// Pid is versitygw's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop kills versitygw and waits until it has exited.
func (p *Process) Stop() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Client returns an SDK client for the server at endpoint with static
// credentials, path-style addressing and checksums only where required.
func Client(endpoint, region, accessKey, secretKey string, hc *http.Client) *s3api.Client {
	return s3api.New(s3api.Options{
		Region:                     region,
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:                 hc,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}
