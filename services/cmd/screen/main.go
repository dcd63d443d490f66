// Command screen screens names against a sanctions, PEP or adverse-media list in its published
// format and prints one JSON line per input line. See services/compliance/screening.
//
//	screen --list sdn.csv [--alt alt.csv] [--add add.csv] [--format ofac-csv|un-xml|simple-csv]
//	       [--min-score 0.85] < names
//	screen --list sdn.csv [--alt alt.csv] --bench 5000 [--pad-to 20000]
//
// Each input line is a name, or a JSON object {"name":…,"dob":…,"country":…} (dob YYYY,
// YYYY-MM or YYYY-MM-DD; country ISO 3166 alpha-2 or an English name), or {"address":…} to
// look up a crypto address by exact match. Blank lines are skipped. For every other line it
// prints
//
//	{"query":…,"matches":[{"id":…,"list":…,"name":…,"matched":…,"score":…}]}
//
// with the matches best first (matched is the primary name or alias that scored). A line that
// cannot be read (bad JSON, unknown field, no name) prints {"line":N,"error":…} in its place;
// the other lines are still screened, and the command exits 1 at the end, naming how many lines
// failed. A list that cannot be loaded exits 1 before reading any input.
//
// Without --format the format follows the list's extension: .xml is un-xml, anything else
// ofac-csv. --bench N screens N names derived from the list itself (every second one with two
// letters swapped) instead of reading stdin, after padding the index with altered copies of
// its entries up to --pad-to entries, and prints the latency percentiles as one JSON line.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/cantondex/platform/services/compliance/screening"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "screen:", err)
		os.Exit(1)
	}
}

type config struct {
	list, alt, add, format string
	minScore               float64
	bench, padTo           int
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("screen", flag.ContinueOnError)
	fs.StringVar(&c.list, "list", "", "the list file (sdn.csv, the UN XML, or a simple CSV)")
	fs.StringVar(&c.alt, "alt", "", "OFAC alt.csv (aliases), with --format ofac-csv")
	fs.StringVar(&c.add, "add", "", "OFAC add.csv (addresses), with --format ofac-csv")
	fs.StringVar(&c.format, "format", "", "ofac-csv, un-xml or simple-csv (default: by the list's extension)")
	fs.Float64Var(&c.minScore, "min-score", screening.DefaultMinScore, "report matches scoring at least this (0..1]")
	fs.IntVar(&c.bench, "bench", 0, "screen this many names derived from the list and print latency percentiles")
	fs.IntVar(&c.padTo, "pad-to", 0, "with --bench: pad the index with altered copies of its entries to this many entries")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q (names are read from stdin)", fs.Arg(0))
	case c.list == "":
		return c, errors.New("--list is required")
	case c.minScore <= 0 || c.minScore > 1:
		return c, fmt.Errorf("--min-score %v: want a value in (0, 1]", c.minScore)
	case c.bench < 0 || c.padTo < 0:
		return c, errors.New("--bench and --pad-to cannot be negative")
	}
	if c.format == "" {
		c.format = "ofac-csv"
		if strings.EqualFold(filepath.Ext(c.list), ".xml") {
			c.format = "un-xml"
		}
	}
	if c.format != "ofac-csv" && (c.alt != "" || c.add != "") {
		return c, fmt.Errorf("--alt and --add go with --format ofac-csv, not %s", c.format)
	}
	return c, nil
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	entries, err := load(c)
	if err != nil {
		return err
	}
	if c.bench > 0 {
		return bench(c, entries, stdout)
	}
	return screenLines(screening.NewIndex(entries), c.minScore, stdin, stdout)
}

func load(c config) ([]screening.Entry, error) {
	entries, err := screening.LoadFiles(c.format, c.list, c.alt, c.add)
	if err != nil {
		return nil, fmt.Errorf("--list %s (--format %q): %w", c.list, c.format, err)
	}
	return entries, nil
}

type inputLine struct {
	Name    string `json:"name"`
	DOB     string `json:"dob"`
	Country string `json:"country"`
	Address string `json:"address"`
}

type outMatch struct {
	ID      string  `json:"id"`
	List    string  `json:"list"`
	Name    string  `json:"name"`
	Matched string  `json:"matched"`
	Score   float64 `json:"score"`
}

type outLine struct {
	Query   string     `json:"query"`
	DOB     string     `json:"dob,omitempty"`
	Country string     `json:"country,omitempty"`
	Address string     `json:"address,omitempty"`
	Matches []outMatch `json:"matches"`
}

type errLine struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// screenLines screens every line of in and writes one JSON line per non-blank input line.
func screenLines(ix *screening.Index, minScore float64, in io.Reader, out io.Writer) error {
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	lineNo, bad := 0, 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		o, err := screenLine(ix, minScore, line)
		if err != nil {
			bad++
			if err := enc.Encode(errLine{Line: lineNo, Error: err.Error()}); err != nil {
				return err
			}
			continue
		}
		if err := enc.Encode(o); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		w.Flush()
		return fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d of the input lines could not be screened (see the error lines)", bad)
	}
	return nil
}

func screenLine(ix *screening.Index, minScore float64, line string) (outLine, error) {
	q := inputLine{Name: line}
	if strings.HasPrefix(line, "{") {
		q = inputLine{}
		dec := json.NewDecoder(bytes.NewReader([]byte(line)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			return outLine{}, fmt.Errorf("bad JSON: %v", err)
		}
		if dec.More() {
			return outLine{}, errors.New("bad JSON: more than one value on the line")
		}
	}
	o := outLine{Query: q.Name, DOB: q.DOB, Country: q.Country, Address: q.Address, Matches: []outMatch{}}
	switch {
	case q.Address != "" && q.Name != "":
		return outLine{}, errors.New("give a name or an address, not both")
	case q.Address != "":
		for _, e := range ix.ScreenAddress(q.Address) {
			o.Matches = append(o.Matches, outMatch{ID: e.ID, List: e.List, Name: e.Name, Matched: q.Address, Score: 1})
		}
		return o, nil
	case strings.TrimSpace(q.Name) == "":
		return outLine{}, errors.New(`no "name" (or "address") to screen`)
	}
	for _, m := range ix.Screen(screening.Query{Name: q.Name, DOB: q.DOB, Country: q.Country}, minScore) {
		o.Matches = append(o.Matches, outMatch{ID: m.EntryID, List: m.List, Name: m.Name, Matched: m.MatchedName, Score: math.Round(m.Score*1e4) / 1e4})
	}
	return o, nil
}

type percentiles struct {
	P50us float64 `json:"p50_us"`
	P90us float64 `json:"p90_us"`
	P99us float64 `json:"p99_us"`
	MaxUs float64 `json:"max_us"`
}

type benchReport struct {
	Entries int `json:"entries"`
	Names   int `json:"names"`
	Queries int `json:"queries"`
	Hits    int `json:"queries_with_matches"`
	// Raw is every query's first run. BestOf3 is each query's fastest of three runs: on a
	// shared machine it removes the time the process spent preempted or in a GC pause, and
	// leaves the cost of the query itself.
	// CPU is the first run's CPU time on its thread (Linux only): the query's own cost,
	// cold caches included, without the time the thread waited for a core.
	Raw     percentiles  `json:"raw"`
	BestOf3 percentiles  `json:"best_of_3"`
	CPU     *percentiles `json:"cpu,omitempty"`
}

// bench pads the entries, screens c.bench names derived from them and prints the latencies.
func bench(c config, entries []screening.Entry, out io.Writer) error {
	if len(entries) == 0 {
		return errors.New("--bench: the list is empty")
	}
	base := len(entries)
	for i := 0; len(entries) < c.padTo; i++ {
		e := entries[i%base]
		entries = append(entries, screening.Entry{
			ID: fmt.Sprintf("pad:%d", i), List: "pad", Type: e.Type,
			Name: swapLetters(e.Name, i+1), Aliases: []string{swapLetters(e.Name, i+2)},
		})
	}
	ix := screening.NewIndex(entries)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	_, haveCPU := threadCPU()
	var cpu []time.Duration
	raw := make([]time.Duration, 0, c.bench)
	best := make([]time.Duration, 0, c.bench)
	hits := 0
	for i := range c.bench {
		name := entries[(i*7919)%base].Name
		if i%2 == 1 {
			name = swapLetters(name, i)
		}
		fastest := time.Duration(math.MaxInt64)
		for run := range 3 {
			c0, _ := threadCPU()
			start := time.Now()
			ms := ix.Screen(screening.Query{Name: name}, c.minScore)
			d := time.Since(start)
			c1, _ := threadCPU()
			fastest = min(fastest, d)
			if run == 0 {
				if haveCPU {
					cpu = append(cpu, c1-c0)
				}
				raw = append(raw, d)
				if len(ms) > 0 {
					hits++
				}
			}
		}
		best = append(best, fastest)
	}
	r := benchReport{
		Entries: ix.Len(), Names: ix.Names(), Queries: len(raw), Hits: hits,
		Raw: percentilesOf(raw), BestOf3: percentilesOf(best),
	}
	if haveCPU {
		p := percentilesOf(cpu)
		r.CPU = &p
	}
	return json.NewEncoder(out).Encode(r)
}

func percentilesOf(lat []time.Duration) percentiles {
	slices.Sort(lat)
	us := func(q float64) float64 {
		d := lat[min(len(lat)-1, int(q*float64(len(lat))))]
		return math.Round(float64(d.Nanoseconds())/10) / 100
	}
	return percentiles{P50us: us(0.50), P90us: us(0.90), P99us: us(0.99), MaxUs: us(1)}
}

// swapLetters swaps two adjacent letters of a name, at a position chosen by seed.
func swapLetters(name string, seed int) string {
	b := []rune(name)
	if len(b) < 3 {
		return name
	}
	p := 1 + seed%(len(b)-2)
	b[p], b[p+1] = b[p+1], b[p]
	return string(b)
}
