package sink_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
)

// joinedWant is what a Joined body must be, built the obvious way.
func joinedWant(j *sink.Joined) []byte {
	var b bytes.Buffer
	b.WriteString(j.Open)
	for i, it := range j.Items {
		if i > 0 {
			b.WriteString(j.Sep)
		}
		b.Write(it)
		b.WriteString(j.End)
	}
	b.WriteString(j.Close)
	return b.Bytes()
}

func joinedRecords(n int) []event.Record {
	recs := make([]event.Record, n)
	for i := range recs {
		recs[i].Data = fmt.Appendf(nil, `{"uuid":"e%d","pad":%q}`, i, strings.Repeat("x", i%7))
	}
	return recs
}

// A Joined body reads, writes and measures as the records joined: JSON
// arrays and NDJSON of 0, 1 and many records, read in pieces of every
// size (iotest.TestReader).
func TestJoined(t *testing.T) {
	for _, n := range []int{0, 1, 2, 50} {
		for _, shape := range [][4]string{
			{"[", ",", "", "]"},
			{"", "", "\n", ""},
			{"<", "--", ";", ">"},
		} {
			recs := joinedRecords(n)
			j := sink.Join(recs, shape[0], shape[1], shape[2], shape[3])
			want := joinedWant(j)
			// The body is the Joined's own: the batch may be reused.
			for i := range recs {
				recs[i] = event.Record{Data: []byte("reused")}
			}
			t.Run(fmt.Sprintf("%d/%q", n, want[:min(len(want), 12)]), func(t *testing.T) {
				if got := j.Len(); got != int64(len(want)) {
					t.Errorf("Len: got %d, want %d", got, len(want))
				}
				var w bytes.Buffer
				if n, err := j.WriteTo(&w); err != nil || n != int64(len(want)) {
					t.Errorf("WriteTo: got %d, %v, want %d, nil", n, err, len(want))
				}
				if !bytes.Equal(w.Bytes(), want) {
					t.Errorf("WriteTo wrote %q, want %q", w.Bytes(), want)
				}
				if err := iotest.TestReader(j.Reader(), want); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// resending reads each request's body once and sends the request again
// with the body GetBody gives, as a transport does when a reused
// connection closed under it.
type resending struct {
	base  http.RoundTripper
	first [][]byte
}

func (r *resending) RoundTrip(req *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	r.first = append(r.first, b)
	if req.GetBody == nil {
		return nil, fmt.Errorf("no GetBody")
	}
	again := req.Clone(req.Context())
	if again.Body, err = req.GetBody(); err != nil {
		return nil, err
	}
	return r.base.RoundTrip(again)
}

// HTTP.Do sends a Joined body with its length (no chunked encoding), and
// whole again from GetBody when the transport must send it again.
func TestDoSendsJoined(t *testing.T) {
	var got []byte
	var length int64
	var chunked bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		length, chunked = r.ContentLength, len(r.TransferEncoding) > 0
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	j := sink.Join(joinedRecords(30), "[", ",", "", "]")
	want := joinedWant(j)
	tr := &resending{base: srv.Client().Transport}
	h := sink.NewHTTP(sink.Deps{HTTPClient: &http.Client{Transport: tr}}, 0)
	resp, err := h.Do(t.Context(), sink.Request{Method: http.MethodPost, URL: u, Joined: j})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got %d, want 200", resp.StatusCode)
	}
	if len(tr.first) != 1 || !bytes.Equal(tr.first[0], want) {
		t.Errorf("first body: got %q, want %q", tr.first, want)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("body sent again: got %q, want %q", got, want)
	}
	if length != int64(len(want)) || chunked {
		t.Errorf("got Content-Length %d (chunked %v), want %d", length, chunked, len(want))
	}
}
