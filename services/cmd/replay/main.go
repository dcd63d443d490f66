// Command replay feeds a JSON Lines journal of order commands through the matching engine and
// writes the events as JSON Lines to stdout. See services/matching/README.md.
//
//	replay [--markets BTC-USD:0.01:0.0001,...] [--config markets.json] [--book] [journal.jsonl]
//
// Without a file it reads stdin. Malformed lines become rejected events naming the line number;
// the rest of the journal is still processed. The output is deterministic.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cantondex/platform/services/matching/journal"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	spec := fs.String("markets", journal.DefaultMarkets, "markets as SYMBOL:TICK:LOT[,SYMBOL:TICK:LOT...]")
	config := fs.String("config", "", "JSON file with the markets (overrides --markets)")
	book := fs.Bool("book", false, "print the final book of each market as JSON at the end")
	if err := fs.Parse(args); err != nil {
		return err
	}
	markets, err := journal.Markets(*spec, *config)
	if err != nil {
		return err
	}
	r, err := journal.NewReplayer(markets)
	if err != nil {
		return err
	}
	in := stdin
	switch fs.NArg() {
	case 0:
	case 1:
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	default:
		return fmt.Errorf("at most one journal file, got %d", fs.NArg())
	}
	if err := r.Run(in, stdout); err != nil {
		return err
	}
	if *book {
		return r.WriteBooks(stdout)
	}
	return nil
}
