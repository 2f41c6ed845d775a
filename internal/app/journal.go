package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sysevent"
)

// journalOptions are the journal's options from the config, the same for
// serve and for commands that open the journal (secrets rotate).
func journalOptions(cfg config.Config) journal.Options {
	return journal.Options{
		DataDir:               cfg.DataDir,
		URL:                   cfg.Journal.NatsURL,
		Listen:                cfg.Journal.NatsListen,
		ListenToken:           cfg.Journal.NatsToken,
		MaxAge:                time.Duration(cfg.Journal.MaxAge),
		MaxBytes:              cfg.Journal.MaxBytes,
		DuplicateWindow:       time.Duration(cfg.Journal.DuplicateWindow),
		DuplicateWindowMaxIDs: cfg.Journal.DuplicateWindowMaxIDs,
		SyncAlways:            cfg.Journal.SyncAlways,
		SyncInterval:          time.Duration(cfg.Journal.SyncInterval),
		Replicas:              cfg.Journal.Replicas,
		Partitions:            cfg.Journal.Partitions,
		Compression:           journal.Compression(cfg.Journal.Compression),

		DeadLetterMaxBytes: cfg.Journal.DeadLetters.MaxBytes,
	}
}

// Event types of the journal's own System Log events.
const (
	typeLostEvents       = "system.journal.lost_events"
	typeLostAcknowledged = "system.journal.lost_events.acknowledge"
)

// reportLostEvents writes a System Log event when the journal found events
// missing at start (it already logged the ERROR and raised the condition).
func reportLostEvents(ctx context.Context, j *journal.Journal, org string, log *slog.Logger) {
	n := j.LostTotal()
	l, ok := j.LostEvents()
	if n == 0 || !ok {
		return
	}
	writeSysEvent(ctx, j, log, sysevent.Spec{Type: typeLostEvents, Severity: sysevent.SeverityError, Org: org, Failure: true,
		Message: fmt.Sprintf("%d events recorded as stored were missing when the journal started", n),
		Reason:  "corrupt or truncated journal files",
		Debug:   map[string]any{"lostEvents": n, "firstSeq": l.FirstSeq, "lastSeq": l.LastSeq}})
}

func writeSysEvent(ctx context.Context, j *journal.Journal, log *slog.Logger, spec sysevent.Spec) {
	if err := sysevent.Write(ctx, j, spec, time.Now()); err != nil {
		log.Error("write system log event", "type", spec.Type, "err", err)
	}
}

// journalRoutes are the journal's operator endpoints.
func journalRoutes(d routeDeps) []httpapi.Route {
	return []httpapi.Route{{Pattern: "POST /api/v1/journal/lost/acknowledge", Scope: auth.ScopeAdmin,
		Handle: func(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
			return acknowledgeLost(w, r, tok, d)
		}}}
}

// acknowledgeLost clears the journal.lost condition once an operator (an
// all-orgs admin) has seen the loss; the System Log keeps who and when.
func acknowledgeLost(w http.ResponseWriter, r *http.Request, tok auth.Token, d routeDeps) error {
	if tok.Org != auth.AllOrgs {
		return httpapi.Forbidden("acknowledging lost journal events needs an all-orgs admin token")
	}
	l, ok, err := d.journal.AcknowledgeLost()
	if err != nil {
		return err
	}
	if !ok {
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"acknowledged": nil})
		return nil
	}
	d.log.Warn("lost journal events acknowledged", "lost", l.Count, "firstSeq", l.FirstSeq, "lastSeq", l.LastSeq, "token", tok.ID)
	writeSysEvent(r.Context(), d.journal, d.log, sysevent.Spec{Type: typeLostAcknowledged, Severity: sysevent.SeverityWarn, Org: d.cfg.Ingest.DefaultOrg,
		Message: fmt.Sprintf("the loss of %d journal events was acknowledged", l.Count),
		Actor:   sysevent.Token(tok),
		Debug:   map[string]any{"lostEvents": l.Count, "firstSeq": l.FirstSeq, "lastSeq": l.LastSeq}})
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"acknowledged": l})
	return nil
}
