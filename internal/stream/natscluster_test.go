package stream_test

import (
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// startNATSCluster starts three clustered nats-servers and returns their
// client URLs, and all three comma-separated.
func startNATSCluster(t *testing.T) (urls []string, all string) {
	t.Helper()
	for _, s := range journaltest.StartNATSCluster(t) {
		urls = append(urls, s.ClientURL())
	}
	return urls, strings.Join(urls, ",")
}
