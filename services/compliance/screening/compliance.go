package screening

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/cantondex/platform/services/compliance"
)

// Screener is an Index behind compliance.Screener: the matches at or above MinScore, the
// review threshold (a setting), best first.
type Screener struct {
	Index    *Index
	MinScore float64
}

var _ compliance.Screener = Screener{}

// ScreenName screens one party.
func (s Screener) ScreenName(name, dob, country string) []compliance.Hit {
	ms := s.Index.Screen(Query{Name: name, DOB: dob, Country: country}, s.MinScore)
	out := make([]compliance.Hit, 0, len(ms))
	for _, m := range ms {
		out = append(out, compliance.Hit{EntryID: m.EntryID, List: m.List, Name: m.Name, Score: m.Score})
	}
	return out
}

// Formats are the list formats LoadFiles reads.
const (
	FormatOFAC   = "ofac-csv"   // sdn.csv, with alt.csv aliases and add.csv addresses
	FormatUN     = "un-xml"     // the UN consolidated list
	FormatSimple = "simple-csv" // PEP and adverse-media lists (README.md)
)

// LoadFiles loads the list at path in format; alt and add (OFAC only, optional: "") are the
// aliases and addresses files.
func LoadFiles(format, path, alt, add string) ([]Entry, error) {
	open := func(path string) (*os.File, error) {
		if path == "" {
			return nil, nil
		}
		return os.Open(path)
	}
	list, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer list.Close()
	switch format {
	case FormatOFAC:
		var altR, addR io.Reader
		altF, err := open(alt)
		if err != nil {
			return nil, err
		}
		if altF != nil {
			defer altF.Close()
			altR = altF
		}
		addF, err := open(add)
		if err != nil {
			return nil, err
		}
		if addF != nil {
			defer addF.Close()
			addR = addF
		}
		return LoadOFAC(list, altR, addR)
	case FormatUN:
		return LoadUN(list)
	case FormatSimple:
		return LoadSimple(list)
	}
	return nil, fmt.Errorf("list format %q: want %s, %s or %s", format, FormatOFAC, FormatUN, FormatSimple)
}

// ScreenerFromEnv builds the KYC screener from SCREENING_LIST (a list file; unset: no
// screening, nil), SCREENING_FORMAT (ofac-csv, the default, un-xml or simple-csv),
// SCREENING_ALT and SCREENING_ADD (OFAC's alt.csv and add.csv) and SCREENING_MIN_SCORE (the
// review threshold, default DefaultMinScore).
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
	entries, err := LoadFiles(format, path, getenv("SCREENING_ALT"), getenv("SCREENING_ADD"))
	if err != nil {
		return nil, fmt.Errorf("SCREENING_LIST: %w", err)
	}
	return Screener{Index: NewIndex(entries), MinScore: minScore}, nil
}
