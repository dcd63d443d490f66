package screening

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// LoadUN reads the UN Security Council consolidated list XML (CONSOLIDATED_LIST with
// INDIVIDUALS/INDIVIDUAL and ENTITIES/ENTITY records). The entry id is "un:" and the
// REFERENCE_NUMBER (QDi.001); the name joins FIRST_NAME .. FOURTH_NAME; aliases come from
// INDIVIDUAL_ALIAS / ENTITY_ALIAS, dates of birth from INDIVIDUAL_DATE_OF_BIRTH (DATE, YEAR,
// or FROM_YEAR..TO_YEAR), countries from NATIONALITY (and the address countries of
// entities). A record that cannot be decoded, or has no reference number or name, fails the
// load with an error naming the record and line.
func LoadUN(r io.Reader) ([]Entry, error) {
	dec := xml.NewDecoder(r)
	var entries []Entry
	records := 0
	sawRoot := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			line, _ := dec.InputPos()
			return nil, fmt.Errorf("un xml line %d: %w", line, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "CONSOLIDATED_LIST":
			sawRoot = true
		case "INDIVIDUAL", "ENTITY":
			records++
			line, _ := dec.InputPos()
			var rec unRecord
			if err := dec.DecodeElement(&rec, &se); err != nil {
				return nil, fmt.Errorf("un xml %s record %d (line %d): %w", se.Name.Local, records, line, err)
			}
			e, err := rec.entry(se.Name.Local == "INDIVIDUAL")
			if err != nil {
				return nil, fmt.Errorf("un xml %s record %d (line %d): %w", se.Name.Local, records, line, err)
			}
			entries = append(entries, e)
		}
	}
	if !sawRoot {
		return nil, errors.New("un xml: no CONSOLIDATED_LIST element")
	}
	return entries, nil
}

type unRecord struct {
	DataID      string       `xml:"DATAID"`
	First       string       `xml:"FIRST_NAME"`
	Second      string       `xml:"SECOND_NAME"`
	Third       string       `xml:"THIRD_NAME"`
	Fourth      string       `xml:"FOURTH_NAME"`
	ListType    string       `xml:"UN_LIST_TYPE"`
	Reference   string       `xml:"REFERENCE_NUMBER"`
	Nationality []string     `xml:"NATIONALITY>VALUE"`
	Aliases     []unAlias    `xml:"INDIVIDUAL_ALIAS"`
	EntAliases  []unAlias    `xml:"ENTITY_ALIAS"`
	DOBs        []unDOB      `xml:"INDIVIDUAL_DATE_OF_BIRTH"`
	Addresses   []unAddress  `xml:"ENTITY_ADDRESS"`
	IndAddr     []unAddress  `xml:"INDIVIDUAL_ADDRESS"`
	Documents   []unDocument `xml:"INDIVIDUAL_DOCUMENT"`
}

type unAlias struct {
	Quality string `xml:"QUALITY"`
	Name    string `xml:"ALIAS_NAME"`
}

type unDOB struct {
	Type     string `xml:"TYPE_OF_DATE"`
	Date     string `xml:"DATE"`
	Year     string `xml:"YEAR"`
	FromYear string `xml:"FROM_YEAR"`
	ToYear   string `xml:"TO_YEAR"`
}

type unAddress struct {
	Country string `xml:"COUNTRY"`
}

type unDocument struct {
	Type   string `xml:"TYPE_OF_DOCUMENT"`
	Number string `xml:"NUMBER"`
}

func (u unRecord) entry(individual bool) (Entry, error) {
	ref := strings.TrimSpace(u.Reference)
	if ref == "" {
		return Entry{}, errors.New("no REFERENCE_NUMBER")
	}
	var parts []string
	for _, p := range []string{u.First, u.Second, u.Third, u.Fourth} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return Entry{}, fmt.Errorf("%s: no FIRST_NAME", ref)
	}
	e := Entry{ID: "un:" + ref, List: "un", Type: "entity", Name: strings.Join(parts, " ")}
	if individual {
		e.Type = "individual"
	}
	if lt := strings.TrimSpace(u.ListType); lt != "" {
		e.Programs = []string{lt}
	}
	for _, a := range append(u.Aliases, u.EntAliases...) {
		if n := strings.TrimSpace(a.Name); n != "" {
			e.Aliases = appendUnique(e.Aliases, n)
		}
	}
	for _, d := range u.DOBs {
		switch {
		case strings.TrimSpace(d.Date) != "":
			dt := strings.TrimSpace(d.Date)
			if len(dt) > 10 {
				dt = dt[:10] // 1957-03-10T00:00:00 in some editions
			}
			e.DOBs = appendUnique(e.DOBs, dt)
		case strings.TrimSpace(d.Year) != "":
			y := strings.TrimSpace(d.Year)
			if strings.EqualFold(strings.TrimSpace(d.Type), "APPROXIMATELY") {
				y = "circa " + y
			}
			e.DOBs = appendUnique(e.DOBs, y)
		case strings.TrimSpace(d.FromYear) != "":
			e.DOBs = appendUnique(e.DOBs, strings.TrimSpace(d.FromYear)+" to "+strings.TrimSpace(d.ToYear))
		}
	}
	for _, n := range u.Nationality {
		if n = strings.TrimSpace(n); n != "" {
			e.Countries = appendUnique(e.Countries, countryCode(n))
		}
	}
	if !individual {
		for _, a := range u.Addresses {
			if c := strings.TrimSpace(a.Country); c != "" {
				e.Countries = appendUnique(e.Countries, countryCode(c))
			}
		}
	}
	return e, nil
}
