package policy

// dataRules are the database, cache and streaming rules.
func dataRules() []Rule {
	return nil
}
