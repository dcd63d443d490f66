package screening

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ofacEmpty is how the OFAC CSV files write an empty field.
const ofacEmpty = "-0-"

// LoadOFAC reads the OFAC SDN list in its published CSV format: sdn.csv (ent_num, SDN_Name,
// SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner,
// Remarks), and optionally alt.csv (ent_num, alt_num, alt_type, alt_name, alt_remarks) for the
// aliases and add.csv (ent_num, add_num, address, city/state/zip, country, add_remarks) for the
// address countries of entities. From the remarks it takes dates of birth ("DOB 25 Mar 1977",
// "DOB circa 1955", "DOB 1950 to 1955"), nationality and citizenship, and digital currency
// addresses ("Digital Currency Address - XBT 1Kuf2..."). "-0-" is an empty field and the
// trailing Ctrl-Z of the published files is ignored. A malformed record fails the whole load
// with an error naming the file and line.
func LoadOFAC(sdn, alt, add io.Reader) ([]Entry, error) {
	if sdn == nil {
		return nil, errors.New("ofac: no sdn.csv")
	}
	var entries []Entry
	byNum := map[string]int{}
	err := readOFAC(sdn, "sdn.csv", 12, func(line int, f []string) error {
		num := f[0]
		if _, dup := byNum[num]; dup {
			return fmt.Errorf("duplicate ent_num %s", num)
		}
		name := f[1]
		if name == "" {
			return fmt.Errorf("ent_num %s: empty SDN_Name", num)
		}
		e := Entry{ID: "ofac:" + num, List: "ofac-sdn", Type: sdnType(f[2]), Name: name, Programs: splitPrograms(f[3])}
		parseRemarks(&e, f[11])
		if e.Type == "vessel" && f[9] != "" {
			e.Countries = appendUnique(e.Countries, countryCode(f[9]))
		}
		byNum[num] = len(entries)
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if alt != nil {
		err := readOFAC(alt, "alt.csv", 5, func(line int, f []string) error {
			i, ok := byNum[f[0]]
			if !ok {
				return fmt.Errorf("alias %s of unknown ent_num %s", f[1], f[0])
			}
			if f[3] == "" {
				return fmt.Errorf("alias %s: empty alt_name", f[1])
			}
			entries[i].Aliases = appendUnique(entries[i].Aliases, f[3])
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if add != nil {
		err := readOFAC(add, "add.csv", 6, func(line int, f []string) error {
			i, ok := byNum[f[0]]
			if !ok {
				return fmt.Errorf("address %s of unknown ent_num %s", f[1], f[0])
			}
			if f[4] != "" && entries[i].Type != "individual" {
				entries[i].Countries = appendUnique(entries[i].Countries, countryCode(f[4]))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// readOFAC calls fn for every record of one of the OFAC files, fields trimmed and "-0-"
// emptied; errors name the file and line.
func readOFAC(r io.Reader, file string, fields int, fn func(line int, f []string) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("ofac %s line %d: %v", file, pe.Line, pe.Err)
			}
			return fmt.Errorf("ofac %s: %w", file, err)
		}
		line, _ := cr.FieldPos(0) // only after a record: FieldPos panics when Read returned none
		if len(rec) == 1 && strings.Trim(rec[0], "\x1a \r\n") == "" {
			continue // the end-of-file marker
		}
		if len(rec) != fields {
			return fmt.Errorf("ofac %s line %d: %d fields, want %d", file, line, len(rec), fields)
		}
		for i, v := range rec {
			v = strings.TrimSpace(v)
			if v == ofacEmpty {
				v = ""
			}
			rec[i] = v
		}
		if rec[0] == "" || strings.Trim(rec[0], "0123456789") != "" {
			return fmt.Errorf("ofac %s line %d: ent_num %q is not a number", file, line, rec[0])
		}
		if err := fn(line, rec); err != nil {
			return fmt.Errorf("ofac %s line %d: %w", file, line, err)
		}
	}
}

func sdnType(s string) string {
	switch strings.ToLower(s) {
	case "individual":
		return "individual"
	case "vessel":
		return "vessel"
	case "aircraft":
		return "aircraft"
	case "":
		return "entity"
	}
	return strings.ToLower(s)
}

// splitPrograms splits "SDGT] [IFSR" (how the CSV joins several programmes).
func splitPrograms(s string) []string {
	var out []string
	for _, p := range strings.Split(s, "] [") {
		if p = strings.Trim(p, "[] "); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseRemarks takes dates of birth, nationalities and digital currency addresses from the
// semicolon-separated remarks of an SDN record.
func parseRemarks(e *Entry, remarks string) {
	for _, item := range strings.Split(remarks, ";") {
		item = strings.TrimSpace(item)
		item = strings.TrimPrefix(item, "alt. ")
		item = strings.TrimSuffix(item, ".")
		switch {
		case strings.HasPrefix(item, "DOB "):
			e.DOBs = appendUnique(e.DOBs, ofacDate(strings.TrimPrefix(item, "DOB ")))
		case strings.HasPrefix(item, "nationality "):
			e.Countries = appendUnique(e.Countries, countryCode(strings.TrimPrefix(item, "nationality ")))
		case strings.HasPrefix(item, "citizen "):
			e.Countries = appendUnique(e.Countries, countryCode(strings.TrimPrefix(item, "citizen ")))
		case strings.HasPrefix(item, "Digital Currency Address - "):
			f := strings.Fields(strings.TrimPrefix(item, "Digital Currency Address - "))
			if len(f) >= 2 {
				e.Addresses = appendUnique(e.Addresses, f[len(f)-1])
			}
		}
	}
}

// ofacDate turns "25 Mar 1977" into 1977-03-25, "Mar 1977" into 1977-03, keeps "1977",
// "circa 1977" and ranges ("1950 to 1955", each side converted), and anything else as
// published.
func ofacDate(s string) string {
	s = strings.TrimSpace(s)
	if lo, hi, ok := strings.Cut(s, " to "); ok {
		return ofacDate(lo) + " to " + ofacDate(hi)
	}
	if rest, ok := strings.CutPrefix(s, "circa "); ok {
		return "circa " + ofacDate(rest)
	}
	f := strings.Fields(s)
	switch {
	case len(f) == 3 && len(f[0]) <= 2 && monthNum(f[1]) != "" && len(f[2]) == 4:
		d := f[0]
		if len(d) == 1 {
			d = "0" + d
		}
		return f[2] + "-" + monthNum(f[1]) + "-" + d
	case len(f) == 2 && monthNum(f[0]) != "" && len(f[1]) == 4:
		return f[1] + "-" + monthNum(f[0])
	}
	return s
}

func monthNum(m string) string {
	switch strings.ToLower(m) {
	case "jan":
		return "01"
	case "feb":
		return "02"
	case "mar":
		return "03"
	case "apr":
		return "04"
	case "may":
		return "05"
	case "jun":
		return "06"
	case "jul":
		return "07"
	case "aug":
		return "08"
	case "sep":
		return "09"
	case "oct":
		return "10"
	case "nov":
		return "11"
	case "dec":
		return "12"
	}
	return ""
}

func appendUnique(s []string, v string) []string {
	if v == "" {
		return s
	}
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}
