// Command wirewatch is the network traffic probe: `wirewatch read FILE`
// summarizes a capture file, `wirewatch probe` captures live traffic and
// serves its windows over HTTP.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wirewatch/wirewatch/internal/probe"
)

const usage = `wirewatch — network traffic probe and traffic map

Usage:
  wirewatch [flags]               probe + center + embedded store in one process:
                                  capture the default-route device, serve the API
  wirewatch read FILE [flags]     summarize a pcap / pcapng file (table or JSON)
  wirewatch probe [flags]         capture live traffic, serve windows over HTTP,
                                  report to a center (--center HOST:PORT)
  wirewatch center [flags]        receive probes over gRPC, store, serve the REST API
  wirewatch version               print the version

Run 'wirewatch COMMAND --help' for the flags of a command.
`

func main() {
	tuneGC()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var err error
	cmd := "wirewatch"
	if len(args) > 0 {
		switch a := args[0]; {
		case !strings.HasPrefix(a, "-"), a == "--version", a == "-h", a == "--help":
			cmd = a
		}
	}
	switch cmd {
	case "wirewatch": // no command, or flags only: the one-process mode
		err = cmdAll(args, stdout, stderr)
	case "center":
		err = cmdCenter(args[1:], stdout, stderr)
	case "read":
		err = cmdRead(args[1:], stdout, stderr)
	case "probe":
		err = cmdProbe(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "wirewatch", probe.Version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "wirewatch: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if cmd != "wirewatch" {
			cmd = "wirewatch " + cmd
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "%s: %v\n", cmd, ue.error)
			return 2
		}
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	return 0
}

type usageError struct{ error }

// parseInterspersed parses flags that may come before or after positional
// arguments (`wirewatch read FILE --format json`), which flag.Parse alone
// does not allow.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// listFlag collects a repeatable flag; values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}
