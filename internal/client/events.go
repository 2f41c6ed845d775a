package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/klauspost/compress/gzip"
)

// Ingest limits. The server takes bodies up to 10 MiB by default; the client
// stays at half of that so a request is never refused for size and one
// retried request costs little.
const (
	// DefaultBatchBytes bounds the uncompressed body of one ingest request.
	DefaultBatchBytes = 5 << 20
	// DefaultBatchEvents bounds the events in one ingest request.
	DefaultBatchEvents = 10000
	// MaxLineBytes is the longest input line SendNDJSON accepts.
	MaxLineBytes = 1 << 20
)

// ErrInvalidInput is wrapped by the errors SendNDJSON returns for input it
// will not send: a line longer than MaxLineBytes or one that is not a JSON
// object. The message names the line number.
var ErrInvalidInput = errors.New("invalid input")

// Result is what the server reported for ingested events.
type Result struct {
	// Accepted counts the events the server stored.
	Accepted int64 `json:"accepted"`
	// Duplicates counts the events it already had (same uuid).
	Duplicates int64 `json:"duplicates"`
}

// SendNDJSON reads newline-delimited JSON events from r and posts them to
// POST /api/v1/events in requests of at most BatchBytes and BatchEvents,
// gzip-compressed unless DisableCompression is set, one request at a time.
// Blank lines are skipped; a line longer than MaxLineBytes or not a JSON
// object stops the upload with an error naming its line number.
//
// Each request is all-or-nothing on the server. When SendNDJSON fails part
// way, the requests before the failure have been stored and the returned
// Result counts them; sending the same input again is safe, because the
// server de-duplicates by uuid (events without a uuid get a new one each
// time, so they would be stored twice).
func (c *Client) SendNDJSON(ctx context.Context, r io.Reader) (Result, error) {
	maxBytes := orDefault(c.BatchBytes, DefaultBatchBytes)
	maxEvents := orDefault(c.BatchEvents, DefaultBatchEvents)

	var (
		total Result
		batch bytes.Buffer
		n     int
	)
	flush := func() error {
		if n == 0 {
			return nil
		}
		res, err := c.SendBatch(ctx, batch.Bytes())
		if err != nil {
			return err
		}
		total.Accepted += res.Accepted
		total.Duplicates += res.Duplicates
		batch.Reset()
		n = 0
		return nil
	}

	// The client keeps its own NDJSON scanning (package ndjson's): it
	// imports no internal package but wire.
	sc := bufio.NewScanner(r)
	// Room for the longest line plus its "\r\n", so an over-long line is
	// seen whole and reported by number rather than as a scanner error.
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes+2)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if len(b) > MaxLineBytes {
			return total, fmt.Errorf("%w: line %d is longer than %d bytes", ErrInvalidInput, line, MaxLineBytes)
		}
		if b[0] != '{' || !json.Valid(b) {
			return total, fmt.Errorf("%w: line %d is not a JSON object", ErrInvalidInput, line)
		}
		if n > 0 && (n >= maxEvents || batch.Len()+len(b)+1 > maxBytes) {
			if err := flush(); err != nil {
				return total, err
			}
		}
		batch.Write(b)
		batch.WriteByte('\n')
		n++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return total, fmt.Errorf("%w: line %d is longer than %d bytes", ErrInvalidInput, line+1, MaxLineBytes)
		}
		return total, fmt.Errorf("read input: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return total, err
	}
	return total, flush()
}

// SendBatch posts ndjson, one request body of newline-delimited events, to
// POST /api/v1/events as it is (gzip-compressed unless DisableCompression
// is set), retrying like every idempotent request. The caller keeps the
// body within the server's limits; SendNDJSON does the splitting. ndjson is
// not modified or retained.
func (c *Client) SendBatch(ctx context.Context, ndjson []byte) (Result, error) {
	return c.SendBatchTo(ctx, "", ndjson)
}

// SendBatchTo is SendBatch into org (?org=, for a token of every org; ""
// is the token's org, or the server's default org).
func (c *Client) SendBatchTo(ctx context.Context, org string, ndjson []byte) (Result, error) {
	path := "/api/v1/events"
	if org != "" {
		path += "?org=" + url.QueryEscape(org)
	}
	rq := request{
		method:      http.MethodPost,
		url:         c.url(path),
		body:        ndjson,
		contentType: "application/x-ndjson",
		idempotent:  true, // the server de-duplicates by uuid
	}
	if !c.DisableCompression {
		z, err := c.compress(ndjson)
		if err != nil {
			return Result{}, err
		}
		rq.body, rq.gzip = z, true
	}
	var res Result
	if _, err := c.do(ctx, rq, &res); err != nil {
		return Result{}, err
	}
	return res, nil
}

// compress gzips b with a pooled writer.
func (c *Client) compress(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(b)/4 + 64)
	zw, _ := c.gz.Get().(*gzip.Writer)
	if zw == nil {
		zw = gzip.NewWriter(&buf)
	} else {
		zw.Reset(&buf)
	}
	defer c.gz.Put(zw)
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return buf.Bytes(), nil
}
