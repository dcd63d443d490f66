package screening_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/compliance"
	"github.com/cantondex/platform/services/compliance/screening"
)

// The KYC service with the real screening engine behind the seam, loaded as the binaries load
// it (SCREENING_LIST): an applicant whose name is a variant of a listed one goes to review with
// a screening case naming the entry; a clean applicant passes to review without a case.
func TestKYCSubmissionScreensTheApplicant(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "pep.csv")
	require.NoError(t, os.WriteFile(list, []byte("id,list,type,name,aliases,dob,country,programs\n"+
		"17,pep,individual,Viktor Antonovich Kuznetsov,,1961-03-02,RU,\n"), 0o600))
	env := map[string]string{"SCREENING_LIST": list, "SCREENING_FORMAT": screening.FormatSimple}
	s, err := screening.ScreenerFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.NotNil(t, s)

	ctx := context.Background()
	store := compliance.NewMemory()
	svc := compliance.New(store, s, compliance.DefaultLimits())
	svc.SetCases(compliance.NewCases(store))
	_, err = svc.Submit(ctx, "user-1", "acct-1", compliance.Application{LegalName: "Kuznetsov, Viktor A.", DateOfBirth: "1961-03-02",
		Nationality: "RU", Address: "Tverskaya 1, Moscow"})
	require.NoError(t, err)
	_, err = svc.Submit(ctx, "user-2", "acct-2", compliance.Application{LegalName: "Alice Example", DateOfBirth: "1990-04-01",
		Nationality: "DE", Address: "Unter den Linden 1, Berlin"})
	require.NoError(t, err)
	cases, err := store.ListCases(ctx, "", 10)
	require.NoError(t, err)
	require.Len(t, cases, 1, "one screening case, for the listed applicant only")
	assert.Equal(t, "screening", cases[0].Kind)
	assert.Equal(t, "acct-1", cases[0].Subject)
	assert.Contains(t, string(cases[0].Evidence), "pep:17")
}

func TestScreenerFromEnvRefusesBadSettings(t *testing.T) {
	s, err := screening.ScreenerFromEnv(func(string) string { return "" })
	require.NoError(t, err)
	assert.Nil(t, s, "no list: no screening")
	for name, env := range map[string]map[string]string{
		"missing file": {"SCREENING_LIST": filepath.Join(t.TempDir(), "none.csv")},
		"bad score":    {"SCREENING_LIST": "x", "SCREENING_MIN_SCORE": "1.5"},
		"bad format":   {"SCREENING_LIST": "x", "SCREENING_FORMAT": "xls"},
		"bad interval": {"SCREENING_LIST": "x", "SCREENING_RELOAD_INTERVAL": "soon"},
		"too often":    {"SCREENING_LIST": "x", "SCREENING_RELOAD_INTERVAL": "1ms"},
		"bad on-start": {"SCREENING_LIST": "x", "SCREENING_RESCREEN_ON_START": "maybe"},
	} {
		_, err := screening.ScreenerFromEnv(func(k string) string { return env[k] })
		assert.Error(t, err, name)
	}
}
