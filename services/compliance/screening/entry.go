package screening

// Entry is one listed party: a person, an entity, a vessel or an aircraft.
type Entry struct {
	ID        string   // list-scoped id, e.g. "ofac:36" or "un:QDi.001" or "pep:17"
	List      string   // "ofac-sdn", "un", or the simple CSV's list name ("pep", "adverse-media")
	Type      string   // "individual", "entity", "vessel", "aircraft", ""
	Name      string   // primary name as published
	Aliases   []string // other names as published
	DOBs      []string // YYYY, YYYY-MM, YYYY-MM-DD, "circa YYYY" or "YYYY to YYYY"; else as published
	Countries []string // ISO 3166 alpha-2 where derivable, else as published
	Addresses []string // crypto addresses ("Digital Currency Address - XBT ..." in SDN remarks)
	Programs  []string // sanctions programmes or the reason for listing
}

// Options are the screening settings.
type Options struct {
	MinScore float64 // matches below it are not reported; DefaultMinScore when zero
}

// DefaultMinScore is the review threshold used when none is given.
const DefaultMinScore = 0.85

// Query is a name to screen with the facts that can rule a candidate out.
type Query struct {
	Name    string
	DOB     string // YYYY, YYYY-MM or YYYY-MM-DD; optional
	Country string // nationality: ISO 3166 alpha-2 or an English country name; optional
}

// Match is one entry whose name (primary or alias) scored at least the threshold.
type Match struct {
	EntryID     string
	List        string
	Name        string  // the entry's primary name
	MatchedName string  // the primary name or alias that scored best
	Score       float64 // 0..1
}
