package main

import (
	"context"
	"io"

	"github.com/auditstream/auditstream/internal/cli"
)

// runLogs is `auditstream logs query|tail` (the System Log query API's CLI).
func runLogs(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	return cli.Logs(ctx, args, stdin, stdout, stderr, env)
}
