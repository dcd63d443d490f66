package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/compliance"
	"github.com/cantondex/platform/services/compliance/kmstest"
	cpg "github.com/cantondex/platform/services/compliance/postgres"
	"github.com/cantondex/platform/services/postgres"
	"github.com/cantondex/platform/services/postgres/pgtest"
)

// trail is a database holding 25 entries with checkpoints over 1-10 and 11-25.
// emptyTrail is a new database's audit store.
func emptyTrail(t *testing.T) (url string, store *cpg.Store) {
	t.Helper()
	url = pgtest.NewURL(t, "audit")
	db, err := postgres.Open(context.Background(), postgres.Options{URL: url, MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return url, cpg.New(db)
}

func trail(t *testing.T) (url string, key ed25519.PublicKey, conn *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	url, store := emptyTrail(t)
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	signer := compliance.Ed25519Signer{ID: "test", Key: priv}
	for i := 1; i <= 25; i++ {
		_, err := store.Append(ctx, compliance.Record{Actor: "officer-1", Kind: "kyc.verified", Subject: fmt.Sprint("acct-", i), Payload: map[string]any{"i": i}})
		require.NoError(t, err)
		if i == 10 || i == 25 {
			_, ok, err := store.Checkpoint(ctx, signer, time.Now())
			require.NoError(t, err)
			require.True(t, ok)
		}
	}
	conn, err = pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return url, pub, conn
}

func audit(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// tamper runs sql as the owner with the append-only triggers disabled: someone bypassing
// the service.
func tamper(t *testing.T, conn *pgx.Conn, sql ...string) {
	t.Helper()
	ctx := context.Background()
	_, err := conn.Exec(ctx, `ALTER TABLE compliance.audit_log DISABLE TRIGGER USER`)
	require.NoError(t, err)
	for _, s := range sql {
		_, err := conn.Exec(ctx, s)
		require.NoError(t, err, s)
	}
	_, err = conn.Exec(ctx, `ALTER TABLE compliance.audit_log ENABLE TRIGGER USER`)
	require.NoError(t, err)
}

func TestVerifyIntactTrail(t *testing.T) {
	url, pub, _ := trail(t)
	code, out, errs := audit("verify", "--database", url, "--public-key", base64.StdEncoding.EncodeToString(pub))
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "intact: 25 entries, 2 checkpoints")

	other, _, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	code, _, errs = audit("verify", "--database", url, "--public-key", base64.StdEncoding.EncodeToString(other))
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "signature does not verify", "checkpoints signed by another key")
}

// Even the owner cannot change the trail while the triggers are on.
func TestTriggerRefusesChanges(t *testing.T) {
	_, _, conn := trail(t)
	for _, s := range []string{
		`UPDATE compliance.audit_log SET actor = 'x' WHERE seq = 3`,
		`DELETE FROM compliance.audit_log WHERE seq = 3`,
		`TRUNCATE compliance.audit_log`,
		`UPDATE compliance.audit_checkpoints SET key_id = 'x'`,
		`DELETE FROM compliance.audit_checkpoints`,
	} {
		_, err := conn.Exec(context.Background(), s)
		var pg *pgconn.PgError
		if assert.ErrorAs(t, err, &pg, s) {
			assert.Contains(t, pg.Message, "append-only", s)
		}
	}
	var n int
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) FROM compliance.audit_log`).Scan(&n))
	assert.Equal(t, 25, n)
}

func TestVerifyNamesTheFirstBadSeq(t *testing.T) {
	for _, tc := range []struct {
		name string
		sql  []string
		want string
	}{
		{"edited payload", []string{`UPDATE compliance.audit_log SET payload = '{"i":700}' WHERE seq = 7`}, "first bad seq 7: hash does not match"},
		{"edited actor", []string{`UPDATE compliance.audit_log SET actor = 'someone-else' WHERE seq = 12`}, "first bad seq 12:"},
		{"edited timestamp", []string{`UPDATE compliance.audit_log SET ts = ts - interval '1 day' WHERE seq = 20`}, "first bad seq 20:"},
		{"deleted", []string{`DELETE FROM compliance.audit_log WHERE seq = 7`}, "first bad seq 7: missing"},
		{"deleted the last", []string{`DELETE FROM compliance.audit_log WHERE seq = 25`}, "first bad seq 25: missing"},
		{"inserted", []string{
			`UPDATE compliance.audit_log SET seq = seq + 1000 WHERE seq >= 7`,
			`UPDATE compliance.audit_log SET seq = seq - 999 WHERE seq >= 1000`,
			`INSERT INTO compliance.audit_log SELECT 7, ts, actor, 'kyc.rejected', subject, payload, prev_hash, hash FROM compliance.audit_log WHERE seq = 6`,
		}, "first bad seq 7:"},
		{"reordered", []string{
			`UPDATE compliance.audit_log SET seq = seq + 1000 WHERE seq IN (3, 4)`,
			`UPDATE compliance.audit_log SET seq = CASE seq WHEN 1003 THEN 4 ELSE 3 END WHERE seq > 1000`,
		}, "first bad seq 3:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, _, conn := trail(t)
			tamper(t, conn, tc.sql...)
			code, _, errs := audit("verify", "--database", url)
			assert.Equal(t, 1, code)
			assert.Contains(t, errs, tc.want)
		})
	}
}

// A consistent rewrite (every hash recomputed from seq 12 on, as someone who knows the
// format but not the signing key would) passes the chain and fails the checkpoint.
func TestVerifyCatchesARewrittenChain(t *testing.T) {
	ctx := context.Background()
	url, _, conn := trail(t)
	db, err := postgres.Open(ctx, postgres.Options{URL: url, MaxConns: 2})
	require.NoError(t, err)
	defer db.Close()
	var es []compliance.Entry
	require.NoError(t, cpg.New(db).Entries(ctx, 1, 0, func(e compliance.Entry) error { es = append(es, e); return nil }))
	es[11].Payload = []byte(`{"i":1200}`)
	var sql []string
	for i := 11; i < len(es); i++ {
		es[i].PrevHash = es[i-1].Hash
		es[i].Hash = compliance.EntryHash(es[i])
		sql = append(sql, fmt.Sprintf(`UPDATE compliance.audit_log SET payload = '%s', prev_hash = '\x%x', hash = '\x%x' WHERE seq = %d`, es[i].Payload, es[i].PrevHash, es[i].Hash, es[i].Seq))
	}
	tamper(t, conn, sql...)
	code, _, errs := audit("verify", "--database", url)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "first bad seq 11: checkpoint 11-25: entries differ from the signed Merkle root")
}

func TestExportVerifiesOffline(t *testing.T) {
	url, pub, _ := trail(t)
	code, out, errs := audit("export", "--database", url, "--from", time.Now().Add(-time.Hour).Format(time.RFC3339))
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 27, "25 entries and 2 checkpoints")
	file := filepath.Join(t.TempDir(), "trail.jsonl")
	require.NoError(t, os.WriteFile(file, []byte(out), 0o600))
	code, stdout, errs := audit("verify", "--file", file, "--public-key", base64.StdEncoding.EncodeToString(pub))
	require.Equal(t, 0, code, errs)
	assert.Contains(t, stdout, "intact: 25 entries, 2 checkpoints")

	edited := strings.Replace(out, `"subject":"acct-9"`, `"subject":"acct-99"`, 1)
	require.NotEqual(t, out, edited)
	require.NoError(t, os.WriteFile(file, []byte(edited), 0o600))
	code, _, errs = audit("verify", "--file", file)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "first bad seq 9:")

	dropped := strings.Join(append(append([]string{}, lines[:4]...), lines[5:]...), "\n")
	require.NoError(t, os.WriteFile(file, []byte(dropped), 0o600))
	code, _, errs = audit("verify", "--file", file)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "first bad seq 5: missing")
}

func TestUsage(t *testing.T) {
	code, _, _ := audit()
	assert.Equal(t, 2, code)
	code, _, errs := audit("verify")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "exactly one of --database and --file")
	code, _, _ = audit("verify", "--file", "x", "--public-key", "nope")
	assert.Equal(t, 2, code)
}

// A trail whose first checkpoint is an Ed25519 one from before the algorithm column and whose
// second is signed in KMS (ECDSA P-256): verify checks each by its own algorithm, pins the KMS
// key given as the DER SubjectPublicKeyInfo, and the export carries the algorithm.
func TestVerifyKMSSignedCheckpoints(t *testing.T) {
	ctx := context.Background()
	url, store := emptyTrail(t)
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	f := kmstest.New(t)
	kmsSigner, err := compliance.NewKMSSigner(ctx, f.Client(), kmstest.KeyARN)
	require.NoError(t, err)
	for i := 1; i <= 12; i++ {
		_, err := store.Append(ctx, compliance.Record{Actor: "system", Kind: "order.new", Subject: fmt.Sprint("o-", i)})
		require.NoError(t, err)
		if i == 6 || i == 12 {
			var signer compliance.Signer = compliance.Ed25519Signer{ID: "settings", Key: priv}
			if i == 12 {
				signer = kmsSigner
			}
			_, ok, err := store.Checkpoint(ctx, signer, time.Now())
			require.NoError(t, err)
			require.True(t, ok)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	rows, err := conn.Query(ctx, `SELECT algorithm FROM compliance.audit_checkpoints ORDER BY from_seq`)
	require.NoError(t, err)
	algs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"ed25519", "ecdsa-p256-sha256"}, algs)
	require.Len(t, f.Signs(), 1)

	code, out, errs := audit("verify", "--database", url)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "intact: 12 entries, 2 checkpoints")
	// Pinned to the KMS key: the Ed25519 checkpoint is not its signature.
	der := base64.StdEncoding.EncodeToString(f.PublicKeyDER())
	code, _, errs = audit("verify", "--database", url, "--public-key", der)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "checkpoint 1-6: signature does not verify")

	// An export of the KMS interval verifies offline with the DER key.
	code, out, errs = audit("export", "--database", url)
	require.Equal(t, 0, code, errs)
	var kept []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, `"from_seq":1,`) {
			continue // the Ed25519 checkpoint
		}
		kept = append(kept, l)
	}
	require.Contains(t, strings.Join(kept, "\n"), `"algorithm":"ecdsa-p256-sha256"`)
	file := filepath.Join(t.TempDir(), "trail.jsonl")
	require.NoError(t, os.WriteFile(file, []byte(strings.Join(kept, "\n")+"\n"), 0o600))
	code, _, errs = audit("verify", "--file", file, "--public-key", der)
	require.Equal(t, 0, code, errs)

	// A KMS-signed checkpoint edited by someone bypassing the service no longer verifies.
	_, err = conn.Exec(ctx, `ALTER TABLE compliance.audit_checkpoints DISABLE TRIGGER USER`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `UPDATE compliance.audit_checkpoints SET signed_at = signed_at + interval '1 second' WHERE from_seq = 7`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `ALTER TABLE compliance.audit_checkpoints ENABLE TRIGGER USER`)
	require.NoError(t, err)
	code, _, errs = audit("verify", "--database", url)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "checkpoint 7-12: signature does not verify")

	code, _, errs = audit("verify", "--database", url, "--public-key", base64.StdEncoding.EncodeToString([]byte("not a key")))
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--public-key")
}
