// Package cli implements the client subcommands of the auditstream binary:
// send, logs, streams, sources and tokens. Each command is a function of its arguments, standard
// streams and environment that returns the process exit code, so main only
// dispatches and tests run commands without a process:
//
//	0  success
//	1  the API or the network failed (the message is on stderr)
//	2  the command line was wrong (the usage is on stderr)
//
// Flags may come before or after a command's positional arguments.
package cli
