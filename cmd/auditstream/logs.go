package main

import (
	"context"
	"fmt"
	"io"
)

// runLogs is `auditstream logs query|tail` (the System Log query API's CLI).
func runLogs(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	fmt.Fprintln(stderr, "auditstream logs: not available yet")
	return 2
}
