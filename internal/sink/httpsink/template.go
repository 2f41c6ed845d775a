package httpsink

import (
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/jsonlex"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/notify"
)

// eventBody is the body of one event's request: the event as stored, or
// the rendered bodyTemplate. A template that fails on this event (it was
// tried on samples when the stream was created, so this is rare) sends
// the event as stored instead, with a warning: a template never fails a
// delivery.
func (s *Sink) eventBody(r event.Record) []byte {
	if s.tpl == nil {
		return r.Data
	}
	body, err := s.tpl.Notice(notify.Parse(r))
	if err != nil {
		s.deps.Logger.Warn("bodyTemplate failed on an event; sending the event as stored", "uuid", r.UUID, "err", err)
		return r.Data
	}
	return body
}

// digestBody is the body of a digest's request: the rendered bodyTemplate
// over the batch, or (when it fails) the events as a JSON array.
func (s *Sink) digestBody(b sink.Batch) []byte {
	notices := make([]notify.Notice, len(b.Records))
	for i, r := range b.Records {
		notices[i] = notify.Parse(r)
	}
	body, err := s.tpl.Digest(notify.NewDigest(notices, time.Duration(s.cfg.Digest)))
	if err != nil {
		s.deps.Logger.Warn("bodyTemplate failed on a digest; sending the events as a JSON array", "events", len(b.Records), "err", err)
		return jsonlex.AppendArray(nil, b.Records, func(r event.Record) []byte { return r.Data })
	}
	return body
}
