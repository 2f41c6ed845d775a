package query

import (
	"context"
	"time"
)

// ScanStoppedHeader is set on an answer whose bounded page stopped at its
// scan budget (WithScanBudget) before it was full: its value is the
// budget. The page holds the matches found so far, and its next link
// continues the search where it stopped.
const ScanStoppedHeader = "Auditstream-Scan-Stopped"

type scanBudgetKey struct{}

// WithScanBudget returns ctx with a scan budget for the bounded queries
// (since and until) of requests made with it: once a page has read the
// journal for d without filling, it answers with the matches found so far
// and a next link at the last event it examined, rather than reading on
// until the page is full. A client following next links gets exactly the
// events of the query without the budget. The console sets it for its own
// in-process requests, so that a page's time stays bounded over a sparse
// range (a keyword search reads every event of its range); the API itself
// has no parameter for it, so Okta's clients see no short pages.
func WithScanBudget(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, scanBudgetKey{}, d)
}

// scanBudget is ctx's budget (WithScanBudget), 0 when none.
func scanBudget(ctx context.Context) time.Duration {
	d, _ := ctx.Value(scanBudgetKey{}).(time.Duration)
	return d
}
