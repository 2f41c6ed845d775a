package query

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// directBatchWait bounds how long one batched direct get may take when
// the caller's context has no deadline.
const directBatchWait = 5 * time.Second

// directBatch reads up to n messages of subject (wildcards allowed) with
// one batched direct get (nats-server 2.11 and later): from message
// sequence from, or, when from is 0, from the first message stored at or
// after since. Any replica of the stream answers; no consumer is created.
// more tells that messages of subject follow the last one returned.
//
// The request is JetStream's batched direct get (the protocol orbit.go's
// jetstreamext.GetBatch speaks); it is sent here with a reply
// subscription sized to the batch, since GetBatch's buffers 64K messages,
// half a megabyte allocated per call, and a polling page makes several.
func directBatch(ctx context.Context, js jetstream.JetStream, stream, subject string, from uint64, since time.Time, n int) (msgs []*jetstream.RawStreamMsg, more bool, err error) {
	req := struct {
		Seq       uint64     `json:"seq,omitempty"`
		NextFor   string     `json:"next_by_subj"`
		Batch     int        `json:"batch"`
		StartTime *time.Time `json:"start_time,omitempty"`
	}{Seq: from, NextFor: subject, Batch: n}
	if from == 0 {
		req.StartTime = &since
	}
	data, err := json.Marshal(req)
	if err != nil {
		return nil, false, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, directBatchWait)
		defer cancel()
	}
	nc := js.Conn()
	// The server sends at most n messages and then an end of batch (or a
	// single not found): the channel never overflows.
	ch := make(chan *nats.Msg, n+1)
	inbox := nc.NewInbox()
	sub, err := nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, false, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(apiSubject(js.Options(), "DIRECT.GET."+stream), inbox, data); err != nil {
		return nil, false, err
	}
	for {
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		if len(m.Data) == 0 {
			switch m.Header.Get("Status") {
			case "404":
				return nil, false, nil // nothing at or after from
			case "204":
				// End of batch: Nats-Num-Pending counts what follows.
				np := m.Header.Get(numPendingHeader)
				return msgs, np != "" && np != "0", nil
			case "503":
				return nil, false, fmt.Errorf("direct get: %w", nats.ErrNoResponders)
			}
		}
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return nil, false, fmt.Errorf("direct get: unexpected answer (status %q): %w", m.Header.Get("Status"), err)
		}
		msgs = append(msgs, &jetstream.RawStreamMsg{Subject: m.Header.Get(jetstream.SubjectHeader), Sequence: seq, Header: m.Header, Data: m.Data})
	}
}

// apiSubject is the JetStream API subject of api under the context's
// prefix or domain.
func apiSubject(o jetstream.JetStreamOptions, api string) string {
	switch {
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "." + api
	case o.Domain != "":
		return "$JS." + o.Domain + ".API." + api
	}
	return "$JS.API." + api
}
