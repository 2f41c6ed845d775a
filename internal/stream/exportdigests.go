package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/sysevent"
)

// TypeDigestFailed is the System Log event of a stream whose signed
// digests of exported objects (S3 and file streams, docs/integrity-
// exports.md) could not be written: the objects since the last digest are
// unproven until a digest is written.
const TypeDigestFailed = "system.log_stream.digest_failed"

// digestOutcome is told, from the sink's digest goroutine, the outcome of
// each export digest it tried to write (sink.DigestReporter). A failure
// shows in the stream's status (lastError) and the metric
// auditstream_export_digest_failures_total{stream}; the first of a run of
// failures writes a System Log event in the stream's org. The sink has
// already logged it.
func (r *Runner) digestOutcome(err error) {
	if err == nil {
		if r.digestFailing.Swap(false) {
			r.log.Info("export digests written again")
		}
		return
	}
	now := time.Now()
	msg := "export digest not written (the objects since the last digest wait for the next attempt): " + egress.PublicMessage(err)
	r.cfg.Status.digestFailed(msg, now)
	r.cfg.Metrics.DigestFailures.WithLabelValues(r.id).Inc()
	if r.digestFailing.Swap(true) || r.cfg.Journal == nil {
		return
	}
	d := r.cfg.Def
	werr := sysevent.Write(context.Background(), r.cfg.Journal, sysevent.Spec{Type: TypeDigestFailed, Severity: sysevent.SeverityError,
		Org:     sysevent.OrgFor(d.Org, r.cfg.SystemOrg),
		Message: fmt.Sprintf("Log stream %s could not write the signed digest of its exported objects; it retries at the next interval", d.Name),
		Targets: []sysevent.Ref{streamRef(d)}, Failure: true, Reason: egress.PublicMessage(err),
		Debug: map[string]any{"streamId": d.ID}}, now)
	if werr != nil {
		r.log.Warn("system log event not written", "type", TypeDigestFailed, "err", werr)
	}
}
