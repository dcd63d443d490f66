package screening

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openFixture(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func byID(entries []Entry) map[string]Entry {
	m := map[string]Entry{}
	for _, e := range entries {
		m[e.ID] = e
	}
	return m
}

func TestLoadOFACFixture(t *testing.T) {
	entries, err := LoadOFAC(openFixture(t, "ofac_sdn.csv"), openFixture(t, "ofac_alt.csv"), openFixture(t, "ofac_add.csv"))
	require.NoError(t, err)
	require.Len(t, entries, 7, "the trailing Ctrl-Z is not a record")
	m := byID(entries)

	aero := m["ofac:36"]
	assert.Equal(t, "ofac-sdn", aero.List)
	assert.Equal(t, "entity", aero.Type, "-0- type is an entity")
	assert.Equal(t, "AEROCARIBBEAN AIRLINES", aero.Name)
	assert.Equal(t, []string{"AERO-CARIBBEAN"}, aero.Aliases)
	assert.Equal(t, []string{"CUBA"}, aero.Programs)
	assert.Empty(t, aero.Countries, "an address without a country adds none")

	assert.Equal(t, []string{"GB"}, m["ofac:173"].Countries, "entity countries come from add.csv")

	abbas := m["ofac:2674"]
	assert.Equal(t, "individual", abbas.Type)
	assert.Equal(t, []string{"ZAYDAN, Muhammad", "ABBAS, Abul"}, abbas.Aliases)
	assert.Equal(t, []string{"1948-12-10"}, abbas.DOBs)

	yan := m["ofac:25308"]
	assert.Equal(t, []string{"1977-03-25"}, yan.DOBs)
	assert.Equal(t, []string{"CN"}, yan.Countries, "citizen China")
	assert.Equal(t, []string{"12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h", "1Kuf2Rd8mDyAViwBozGTNYnvWL8uYFrkVo"}, yan.Addresses,
		"both addresses, the trailing full stop dropped")

	kh := m["ofac:26137"]
	assert.Equal(t, []string{"CYBER2", "IRAN-CON-ARMS-EO"}, kh.Programs)
	assert.Equal(t, []string{"IR"}, kh.Countries, "nationality Iran; the individual's address country is not a nationality")
	assert.Equal(t, []string{"0x7F367cC41522cE07553e823bf3be79A889DEbe1B"}, kh.Addresses)

	assert.Equal(t, []string{"circa 1955", "1958 to 1960"}, m["ofac:9001"].DOBs)
	assert.Equal(t, []string{"RU"}, m["ofac:9001"].Countries)

	vessel := m["ofac:9002"]
	assert.Equal(t, "vessel", vessel.Type)
	assert.Equal(t, []string{"KP"}, vessel.Countries, "the flag of a vessel")
}

func TestLoadOFACWithoutAltOrAdd(t *testing.T) {
	entries, err := LoadOFAC(openFixture(t, "ofac_sdn.csv"), nil, nil)
	require.NoError(t, err)
	assert.Len(t, entries, 7)
	assert.Empty(t, byID(entries)["ofac:36"].Aliases)
}

func TestLoadOFACMalformed(t *testing.T) {
	good := `36,"AEROCARIBBEAN AIRLINES",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ` + "\n"
	for name, tc := range map[string]struct{ sdn, alt, want string }{
		"short record":      {good + `37,"X",-0- ,"CUBA"` + "\n", "", "sdn.csv line 2: 4 fields, want 12"},
		"bad quote":         {good + `38,"X"Y",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ` + "\n", "", "sdn.csv line 2"},
		"ent_num not a num": {good + `abc,"X",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ` + "\n", "", `line 2: ent_num "abc" is not a number`},
		"duplicate ent_num": {good + good, "", "sdn.csv line 2: duplicate ent_num 36"},
		"empty name":        {`39,-0- ,-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ` + "\n", "", "sdn.csv line 1: ent_num 39: empty SDN_Name"},
		"alias of unknown":  {good, `36,1,"aka","A",-0- ` + "\n" + `99,2,"aka","B",-0- ` + "\n", "alt.csv line 2: alias 2 of unknown ent_num 99"},
		"alias short":       {good, `36,1,"aka"` + "\n", "alt.csv line 1: 3 fields, want 5"},
	} {
		t.Run(name, func(t *testing.T) {
			var alt *strings.Reader
			if tc.alt != "" {
				alt = strings.NewReader(tc.alt)
			}
			var err error
			if alt != nil {
				_, err = LoadOFAC(strings.NewReader(tc.sdn), alt, nil)
			} else {
				_, err = LoadOFAC(strings.NewReader(tc.sdn), nil, nil)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoadOFACSnapshot(t *testing.T) {
	entries := loadSDN(t)
	assert.Greater(t, len(entries), 8000)
	names, addrs := 0, 0
	for _, e := range entries {
		names += 1 + len(e.Aliases)
		addrs += len(e.Addresses)
	}
	assert.Greater(t, names, 19000, "SDN names with their aliases")
	assert.Greater(t, addrs, 50, "digital currency addresses from the remarks")
	ix := NewIndex(entries)
	got := ix.ScreenAddress("12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h")
	require.Len(t, got, 1)
	assert.Equal(t, "ofac:25308", got[0].ID)
}

func TestLoadUNFixture(t *testing.T) {
	entries, err := LoadUN(openFixture(t, "un_consolidated.xml"))
	require.NoError(t, err)
	require.Len(t, entries, 5)
	m := byID(entries)

	qudsi := m["un:QDi.901"]
	assert.Equal(t, "un", qudsi.List)
	assert.Equal(t, "individual", qudsi.Type)
	assert.Equal(t, "ABDUL RAHMAN YASIN AL-QUDSI", qudsi.Name)
	assert.Equal(t, []string{"Abdelrahman Yaseen", "Abu Yasin"}, qudsi.Aliases)
	assert.Equal(t, []string{"1960-04-10"}, qudsi.DOBs)
	assert.Equal(t, []string{"IQ"}, qudsi.Countries)
	assert.Equal(t, []string{"Al-Qaida"}, qudsi.Programs)

	kim := m["un:KPi.977"]
	assert.Empty(t, kim.Aliases, "an empty INDIVIDUAL_ALIAS is no alias")
	assert.Equal(t, []string{"circa 1966"}, kim.DOBs)
	assert.Equal(t, []string{"KP"}, kim.Countries)

	nunez := m["un:LYi.930"]
	assert.Equal(t, "JOSÉ MARÍA NÚÑEZ ORTEGA", nunez.Name)
	assert.Equal(t, []string{"1970 to 1972"}, nunez.DOBs)
	assert.Equal(t, []string{"ES", "LY"}, nunez.Countries)

	star := m["un:KPe.990"]
	assert.Equal(t, "entity", star.Type)
	assert.Equal(t, []string{"Pukdu Haeun Hoesa"}, star.Aliases)
	assert.Equal(t, []string{"KP"}, star.Countries, "entity countries from ENTITY_ADDRESS")
	assert.Len(t, m["un:QDe.991"].Aliases, 2)
}

func TestLoadUNMalformed(t *testing.T) {
	for name, tc := range map[string]struct{ xml, want string }{
		"not xml":      {"hello", "no CONSOLIDATED_LIST"},
		"unclosed":     {"<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><FIRST_NAME>A</FIRST_NAME>", "INDIVIDUAL record 1 (line 1)"},
		"no reference": {"<CONSOLIDATED_LIST>\n<INDIVIDUALS>\n<INDIVIDUAL><FIRST_NAME>A</FIRST_NAME><REFERENCE_NUMBER>QDi.1</REFERENCE_NUMBER></INDIVIDUAL>\n<INDIVIDUAL><FIRST_NAME>B</FIRST_NAME></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>", "INDIVIDUAL record 2 (line 4): no REFERENCE_NUMBER"},
		"no name":      {"<CONSOLIDATED_LIST><ENTITIES><ENTITY><REFERENCE_NUMBER>QDe.1</REFERENCE_NUMBER></ENTITY></ENTITIES></CONSOLIDATED_LIST>", "ENTITY record 1 (line 1): QDe.1: no FIRST_NAME"},
		"bad token":    {"<CONSOLIDATED_LIST>\n\n<INDIVIDUALS></WRONG>", "un xml line 3"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadUN(strings.NewReader(tc.xml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoadSimpleFixture(t *testing.T) {
	entries, err := LoadSimple(openFixture(t, "pep.csv"))
	require.NoError(t, err)
	require.Len(t, entries, 5)
	m := byID(entries)
	p := m["pep:1"]
	assert.Equal(t, "pep", p.List)
	assert.Equal(t, "individual", p.Type)
	assert.Equal(t, []string{"Viktor Pavlenko", "Wiktor Pawlenko"}, p.Aliases)
	assert.Equal(t, []string{"1958-11-02"}, p.DOBs)
	assert.Equal(t, []string{"UA"}, p.Countries)
	assert.Equal(t, []string{"AR", "ES"}, m["pep:2"].Countries)
	assert.Equal(t, []string{"AE"}, m["pep:3"].Countries, "country names become ISO codes")
	am := m["adverse-media:4"]
	assert.Equal(t, "entity", am.Type)
	assert.Equal(t, []string{"fraud", "money laundering"}, am.Programs)
}

func TestLoadSimpleColumnsInAnyOrder(t *testing.T) {
	entries, err := LoadSimple(strings.NewReader("name,id,list\nJane Roe,7,pep\n"))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, Entry{ID: "pep:7", List: "pep", Type: "individual", Name: "Jane Roe"}, entries[0])
}

func TestLoadSimpleMalformed(t *testing.T) {
	for name, tc := range map[string]struct{ csv, want string }{
		"empty":          {"", "empty file"},
		"unknown column": {"id,list,name,colour\n", `line 1: unknown column "colour"`},
		"no name column": {"id,list\n", `line 1: no "name" column`},
		"field count":    {"id,list,name\n1,pep,A\n2,pep\n", "line 3"},
		"empty name":     {"id,list,name\n1,pep,A\n2,pep,\n", "line 3: empty name"},
		"duplicate id":   {"id,list,name\n1,pep,A\n1,pep,B\n", "line 3: duplicate id pep:1"},
		"bad type":       {"id,list,name,type\n1,pep,A,robot\n", `line 2: type "robot"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadSimple(strings.NewReader(tc.csv))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
