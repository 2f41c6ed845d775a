package journal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RecentUUIDs returns the uuids of org's events that arrived since the
// given time with the given envelope source, oldest first, at most max of
// the newest. Sources use it after a restart to drop events they read
// again, also when the restart came later than the de-duplication window.
func (j *Journal) RecentUUIDs(ctx context.Context, org, source string, since time.Time, max int) ([]string, error) {
	c, err := j.js.OrderedConsumer(ctx, j.opts.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"audit." + org + ".>"},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &since,
		HeadersOnly:    true,
	})
	if err != nil {
		return nil, fmt.Errorf("read recent events: %w", err)
	}
	var out []string
	for {
		info := c.CachedInfo()
		if info != nil && info.NumPending == 0 && len(out) > 0 {
			break
		}
		batch, err := c.Fetch(500, jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			return nil, fmt.Errorf("read recent events: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if m.Headers().Get(HeaderSource) == source {
				out = append(out, UUIDOf(m.Headers()))
				if len(out) > max {
					out = out[len(out)-max:]
				}
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("read recent events: %w", err)
		}
		if n == 0 {
			break
		}
	}
	return out, nil
}
