package main

import (
	"context"
	"fmt"
	"io"
)

// runLambda is `auditstream lambda`, the AWS Lambda handler.
func runLambda(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	fmt.Fprintln(stderr, "auditstream lambda: not available yet")
	return 2
}

// runImport is `auditstream import`, rehydration from an S3 archive.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	fmt.Fprintln(stderr, "auditstream import: not available yet")
	return 2
}
