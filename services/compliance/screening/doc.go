// Package screening screens names and crypto addresses against sanctions, PEP and
// adverse-media lists loaded in their published formats: the OFAC SDN CSV files (sdn.csv,
// alt.csv, add.csv), the UN consolidated list XML, and a simple CSV of our own (see
// LoadSimple).
//
// Names are normalised (case, diacritics, punctuation, honorifics, legal-form words; token
// order does not matter) and scored with Jaro-Winkler over the best one-to-one alignment of
// name tokens, with a phonetic key that rescues transliterations (Mohammed / Muhammad,
// Yousef / Yusuf). A date of birth or a nationality that clearly disagrees with the entry
// lowers the score. An Index blocks candidates by token prefixes and phonetic keys, so a
// query only scores the entries that share a plausible token with it.
//
// The Index is immutable after NewIndex and safe for concurrent use.
package screening
