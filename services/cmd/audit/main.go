// Command audit verifies and exports the compliance audit trail (services/compliance).
//
//	audit verify --database URL [--public-key BASE64]   # the whole trail in PostgreSQL
//	audit verify --file trail.jsonl [--public-key BASE64]  # an export, offline
//	audit export --database URL [--from RFC3339] [--to RFC3339] > trail.jsonl
//
// verify exits 0 on an intact trail and 1 naming the first bad sequence number when a row
// was edited, deleted, inserted or reordered (the hash chain), or when the rows do not match
// a signed checkpoint (a chain rewritten consistently); 2 on bad usage. With --public-key
// (the checkpoint signer's public key, given out of band: a raw Ed25519 key, or the DER
// SubjectPublicKeyInfo of the cluster's KMS P-256 key as `aws kms get-public-key` prints it)
// checkpoints must be signed by that key; without it, by the key each checkpoint names. Each
// checkpoint names its algorithm (ed25519 or ecdsa-p256-sha256).
//
// An export is JSON Lines: {"type":"entry",...} lines in seq order, then
// {"type":"checkpoint",...} lines. The range is widened to whole checkpoint intervals, so
// every checkpoint in it can be recomputed from the lines alone; its first entry's
// prev_hash anchors it to the part of the trail before.
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cantondex/platform/services/compliance"
	cpg "github.com/cantondex/platform/services/compliance/postgres"
	"github.com/cantondex/platform/services/postgres"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// line is one line of an export.
type line struct {
	Type string `json:"type"`
	*compliance.Entry
	Checkpoint *compliance.Checkpoint `json:"checkpoint,omitempty"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "export") {
		fmt.Fprintln(stderr, "usage: audit verify (--database URL | --file F) [--public-key B64] | audit export --database URL [--from T] [--to T]")
		return 2
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("database", "", "PostgreSQL URL")
	file := fs.String("file", "", "an export to verify (JSON Lines; - for stdin)")
	pub := fs.String("public-key", "", "the checkpoint signer's public key, base64 (raw Ed25519 or DER SubjectPublicKeyInfo)")
	from := fs.String("from", "", "export entries from this time (RFC 3339)")
	to := fs.String("to", "", "export entries before this time (RFC 3339)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	var err error
	switch args[0] {
	case "verify":
		err = verify(ctx, *dbURL, *file, *pub, stdout)
	case "export":
		err = export(ctx, *dbURL, *from, *to, stdout)
	}
	var p *compliance.Problem
	var u usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		fmt.Fprintln(stderr, "audit:", err)
		return 2
	case errors.As(err, &p):
		fmt.Fprintf(stderr, "audit: FAILED: first bad seq %d: %s\n", p.Seq, p.Reason)
		return 1
	default:
		fmt.Fprintln(stderr, "audit:", err)
		return 1
	}
}

type usageError string

func (u usageError) Error() string { return string(u) }

func open(ctx context.Context, dbURL string) (*cpg.Store, func(), error) {
	if dbURL == "" {
		return nil, nil, usageError("--database required")
	}
	// Verify only: the tool never changes the schema.
	db, err := postgres.Open(ctx, postgres.Options{URL: dbURL, MaxConns: 2, Migrate: postgres.MigrateVerify})
	if err != nil {
		return nil, nil, err
	}
	return cpg.New(db), db.Close, nil
}

func verify(ctx context.Context, dbURL, file, pub string, stdout io.Writer) error {
	v := &compliance.Verifier{}
	if pub != "" {
		k, err := base64.StdEncoding.DecodeString(pub)
		if err == nil {
			k, err = compliance.ParsePublicKey(k)
		}
		if err != nil {
			return usageError("--public-key: want base64 of the signer's public key (a raw Ed25519 key, or the DER SubjectPublicKeyInfo KMS GetPublicKey returns): " + err.Error())
		}
		v.PublicKey = k
	}
	var n int
	var err error
	switch {
	case (dbURL == "") == (file == ""):
		return usageError("verify: exactly one of --database and --file")
	case dbURL != "":
		store, done, oerr := open(ctx, dbURL)
		if oerr != nil {
			return oerr
		}
		defer done()
		err = compliance.Verify(ctx, store, v)
		if cps, cerr := store.Checkpoints(ctx); cerr == nil {
			n = len(cps)
		}
	default:
		n, err = verifyFile(file, v)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "audit trail intact: %d entries, %d checkpoints verified\n", v.Count(), n)
	return nil
}

func verifyFile(file string, v *compliance.Verifier) (int, error) {
	r := io.Reader(os.Stdin)
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		r = f
	}
	var cps []compliance.Checkpoint
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for i := 1; sc.Scan(); i++ {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return 0, fmt.Errorf("line %d: %w", i, err)
		}
		switch {
		case l.Type == "entry" && l.Entry != nil:
			v.Entry(*l.Entry)
		case l.Type == "checkpoint" && l.Checkpoint != nil:
			cps = append(cps, *l.Checkpoint)
		default:
			return 0, fmt.Errorf("line %d: want type entry or checkpoint", i)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return len(cps), v.Finish(cps)
}

func export(ctx context.Context, dbURL, from, to string, stdout io.Writer) error {
	start, end := time.Time{}, time.Now().Add(time.Hour)
	var err error
	if from != "" {
		if start, err = time.Parse(time.RFC3339Nano, from); err != nil {
			return usageError("--from: want RFC 3339")
		}
	}
	if to != "" {
		if end, err = time.Parse(time.RFC3339Nano, to); err != nil {
			return usageError("--to: want RFC 3339")
		}
	}
	store, done, err := open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer done()
	first, last, err := store.EntriesBetween(ctx, start, end)
	if err != nil || first == 0 {
		return err
	}
	cps, err := store.Checkpoints(ctx)
	if err != nil {
		return err
	}
	var in []compliance.Checkpoint
	for _, c := range cps { // widen to whole checkpoint intervals
		if c.ToSeq >= first && c.FromSeq <= last {
			first, last = min(first, c.FromSeq), max(last, c.ToSeq)
			in = append(in, c)
		}
	}
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	if err := store.Entries(ctx, first, last, func(e compliance.Entry) error { return enc.Encode(line{Type: "entry", Entry: &e}) }); err != nil {
		return err
	}
	for _, c := range in {
		if err := enc.Encode(line{Type: "checkpoint", Checkpoint: &c}); err != nil {
			return err
		}
	}
	return w.Flush()
}
