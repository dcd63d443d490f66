package screening

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cantondex/platform/services/compliance"
)

// Screener is an Index behind compliance.Screener: the matches at or above MinScore, the
// review threshold (a setting), best first.
type Screener struct {
	Index    *Index
	MinScore float64
}

var (
	_ compliance.Screener        = Screener{}
	_ compliance.AddressScreener = Screener{}
)

// ScreenName screens one party; each hit carries its list entry.
func (s Screener) ScreenName(name, dob, country string) []compliance.Hit {
	ms := s.Index.Screen(Query{Name: name, DOB: dob, Country: country}, s.MinScore)
	out := make([]compliance.Hit, 0, len(ms))
	for _, m := range ms {
		h := compliance.Hit{EntryID: m.EntryID, List: m.List, Name: m.Name, Matched: m.MatchedName, Score: m.Score}
		if e, ok := s.Index.Entry(m.EntryID); ok {
			h.Entry = listEntry(e)
		}
		out = append(out, h)
	}
	return out
}

// ScreenAddress matches a crypto address exactly against the entries' digital currency
// addresses: a hit scores 1.
func (s Screener) ScreenAddress(address string) []compliance.Hit {
	es := s.Index.ScreenAddress(address)
	out := make([]compliance.Hit, 0, len(es))
	for _, e := range es {
		out = append(out, compliance.Hit{EntryID: e.ID, List: e.List, Name: e.Name, Matched: address, Address: address, Score: 1, Entry: listEntry(e)})
	}
	return out
}

func listEntry(e Entry) *compliance.ListEntry {
	return &compliance.ListEntry{ID: e.ID, List: e.List, Type: e.Type, Name: e.Name, Aliases: e.Aliases, DOBs: e.DOBs,
		Countries: e.Countries, Addresses: e.Addresses, Programs: e.Programs}
}

// Formats are the list formats LoadFiles reads.
const (
	FormatOFAC   = "ofac-csv"   // sdn.csv, with alt.csv aliases and add.csv addresses
	FormatUN     = "un-xml"     // the UN consolidated list
	FormatSimple = "simple-csv" // PEP and adverse-media lists (README.md)
)

// LoadFiles loads the list at path in format; alt and add (OFAC only, optional: "") are the
// aliases and addresses files. A file whose name ends in ".gz" is read through gzip (the
// cluster carries the lists compressed: the OFAC files exceed a ConfigMap's 1 MiB raw).
func LoadFiles(format, path, alt, add string) ([]Entry, error) {
	open := func(path string) (io.Reader, error) {
		if path == "" {
			return nil, nil
		}
		return openList(path)
	}
	list, err := openList(path)
	if err != nil {
		return nil, err
	}
	switch format {
	case FormatOFAC:
		altR, err := open(alt)
		if err != nil {
			return nil, err
		}
		addR, err := open(add)
		if err != nil {
			return nil, err
		}
		return LoadOFAC(list, altR, addR)
	case FormatUN:
		return LoadUN(list)
	case FormatSimple:
		return LoadSimple(list)
	}
	return nil, fmt.Errorf("list format %q: want %s, %s or %s", format, FormatOFAC, FormatUN, FormatSimple)
}

// openList reads the file at path whole (a list is a few MB), decompressed when its name ends
// in ".gz"; a corrupt or truncated gzip stream is an error, never a shorter list.
func openList(path string) (io.Reader, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return bytes.NewReader(b), nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return bytes.NewReader(raw), nil
}

// ScreenerFromEnv builds the screener of KYC and withdrawals from SCREENING_LIST (a list
// file; unset: no screening, nil), SCREENING_FORMAT (ofac-csv, the default, un-xml or
// simple-csv), SCREENING_ALT and SCREENING_ADD (OFAC's alt.csv and add.csv),
// SCREENING_MIN_SCORE (the review threshold, default DefaultMinScore),
// SCREENING_RELOAD_INTERVAL (how often the files are checked for an update, default 1m; 0:
// never) and SCREENING_RESCREEN_ON_START (on by default: every account is screened against
// the whole list at start). It is a *Watcher.
func ScreenerFromEnv(getenv func(string) string) (compliance.Screener, error) {
	path := getenv("SCREENING_LIST")
	if path == "" {
		return nil, nil
	}
	format := getenv("SCREENING_FORMAT")
	if format == "" {
		format = FormatOFAC
	}
	minScore := DefaultMinScore
	if v := getenv("SCREENING_MIN_SCORE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 1 {
			return nil, fmt.Errorf("SCREENING_MIN_SCORE %q: want a score in (0, 1]", v)
		}
		minScore = f
	}
	interval := time.Minute
	if v := getenv("SCREENING_RELOAD_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if v == "0" {
			d, err = 0, nil
		}
		if err != nil || d < 0 || (d > 0 && d < 100*time.Millisecond) || d > 24*time.Hour {
			return nil, fmt.Errorf("SCREENING_RELOAD_INTERVAL %q: want 0 (never) or a duration from 100ms to 24h", v)
		}
		interval = d
	}
	onStart := true
	if v := getenv("SCREENING_RESCREEN_ON_START"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("SCREENING_RESCREEN_ON_START %q: want true or false", v)
		}
		onStart = b
	}
	w, err := NewWatcher(Source{Format: format, Path: path, Alt: getenv("SCREENING_ALT"), Add: getenv("SCREENING_ADD")}, minScore)
	if err != nil {
		return nil, fmt.Errorf("SCREENING_LIST: %w", err)
	}
	w.Interval, w.RescreenOnStart = interval, onStart
	return w, nil
}
