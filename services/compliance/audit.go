package compliance

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// HashSize is the size of an audit hash (SHA-256).
const HashSize = sha256.Size

// Entry is one row of the audit trail. Seq numbers are dense from 1; each entry's Hash is
// SHA-256 over its canonical fields (EntryHash), PrevHash is the previous entry's Hash (32
// zero bytes for the first), so any edit, deletion, insertion or reordering breaks the chain
// at the first entry it touches.
type Entry struct {
	Seq      int64           `json:"seq"`
	TS       time.Time       `json:"ts"`
	Actor    string          `json:"actor"`   // user id, "system" or a service name
	Kind     string          `json:"kind"`    // e.g. "kyc.submitted", "order.new", "case.disposed"
	Subject  string          `json:"subject"` // the account, order or case it concerns
	Payload  json.RawMessage `json:"payload"` // compact JSON, hashed byte for byte
	PrevHash []byte          `json:"prev_hash"`
	Hash     []byte          `json:"hash"`
}

// Record is what a caller appends: the store assigns Seq, TS, PrevHash and Hash.
type Record struct {
	Actor, Kind, Subject string
	Payload              any // marshalled to JSON; nil is {}
}

// Canonical timestamps: microseconds (PostgreSQL's precision), UTC.
func canonicalTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// EntryHash is SHA-256 over the entry's canonical fields, each length-prefixed (8 bytes,
// big-endian): seq (decimal), ts (RFC 3339 with microseconds, UTC), actor, kind, subject,
// payload (as stored), prev_hash (raw 32 bytes). The prefix domain-separates the format.
func EntryHash(e Entry) []byte {
	h := sha256.New()
	h.Write([]byte("cantondex-audit-v1"))
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(strconv.FormatInt(e.Seq, 10)))
	field([]byte(canonicalTime(e.TS).Format("2006-01-02T15:04:05.000000Z")))
	field([]byte(e.Actor))
	field([]byte(e.Kind))
	field([]byte(e.Subject))
	field(e.Payload)
	field(e.PrevHash)
	return h.Sum(nil)
}

// Seal fills in the entry that follows prev (nil for the first): Seq, PrevHash, Hash, and the
// canonical TS and Payload.
func Seal(prev *Entry, r Record, ts time.Time) (Entry, error) {
	payload := []byte("{}")
	if r.Payload != nil {
		b, err := json.Marshal(r.Payload)
		if err != nil {
			return Entry{}, fmt.Errorf("audit payload: %w", err)
		}
		payload = b
	}
	if r.Actor == "" || r.Kind == "" {
		return Entry{}, fmt.Errorf("audit record: actor and kind required")
	}
	e := Entry{Seq: 1, TS: canonicalTime(ts), Actor: r.Actor, Kind: r.Kind, Subject: r.Subject, Payload: payload, PrevHash: make([]byte, HashSize)}
	if prev != nil {
		e.Seq = prev.Seq + 1
		e.PrevHash = bytes.Clone(prev.Hash)
	}
	e.Hash = EntryHash(e)
	return e, nil
}

// MerkleRoot is the RFC 6962 Merkle tree hash over the leaves (the entries' hashes, in seq
// order): leaf = SHA-256(0x00 || hash), node = SHA-256(0x01 || left || right), split at the
// largest power of two below n. The root of no leaves is SHA-256 of the empty string.
func MerkleRoot(leaves [][]byte) []byte {
	if len(leaves) == 0 {
		s := sha256.Sum256(nil)
		return s[:]
	}
	if len(leaves) == 1 {
		s := sha256.Sum256(append([]byte{0}, leaves[0]...))
		return s[:]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := MerkleRoot(leaves[:k]), MerkleRoot(leaves[k:])
	s := sha256.Sum256(append(append([]byte{1}, l...), r...))
	return s[:]
}

// Checkpoint is a signed Merkle root over the entries FromSeq..ToSeq (inclusive). The last
// entry's hash is included too, so a checkpoint also pins the chain's head at ToSeq.
type Checkpoint struct {
	FromSeq  int64     `json:"from_seq"`
	ToSeq    int64     `json:"to_seq"`
	Root     []byte    `json:"root"`
	HeadHash []byte    `json:"head_hash"`
	SignedAt time.Time `json:"signed_at"`
	KeyID    string    `json:"key_id"`
	// Algorithm is how Signature was made: AlgEd25519 (PublicKey the raw 32-byte key) or
	// AlgECDSAP256SHA256 (PublicKey a DER SubjectPublicKeyInfo, Signature ASN.1 DER, as AWS
	// KMS returns them). Empty reads as AlgEd25519 (checkpoints from before the field).
	Algorithm string `json:"algorithm"`
	PublicKey []byte `json:"public_key"`
	Signature []byte `json:"signature"`
}

// SignedMessage is what a checkpoint's signature covers.
func (c Checkpoint) SignedMessage() []byte {
	return fmt.Appendf(nil, "cantondex-audit-checkpoint-v1\n%d\n%d\n%x\n%x\n%s\n%s",
		c.FromSeq, c.ToSeq, c.Root, c.HeadHash, canonicalTime(c.SignedAt).Format("2006-01-02T15:04:05.000000Z"), c.KeyID)
}

// The checkpoint signature algorithms.
const (
	AlgEd25519         = "ed25519"
	AlgECDSAP256SHA256 = "ecdsa-p256-sha256"
)

// Signer signs checkpoints. Ed25519Signer signs with a key from settings (local runs, tests);
// in the cluster KMSSigner signs with an AWS KMS ECC_NIST_P256 key, so the private key never
// leaves KMS.
type Signer interface {
	KeyID() string
	// Algorithm is one of AlgEd25519, AlgECDSAP256SHA256.
	Algorithm() string
	// PublicKey is in the form Checkpoint.PublicKey documents for Algorithm.
	PublicKey() []byte
	Sign(msg []byte) ([]byte, error)
}

// VerifySignature reports whether sig is a valid signature of msg under pub for alg.
func VerifySignature(alg string, pub, msg, sig []byte) bool {
	switch alg {
	case "", AlgEd25519:
		return len(pub) == ed25519.PublicKeySize && ed25519.Verify(ed25519.PublicKey(pub), msg, sig)
	case AlgECDSAP256SHA256:
		k, err := x509.ParsePKIXPublicKey(pub)
		if err != nil {
			return false
		}
		ek, ok := k.(*ecdsa.PublicKey)
		if !ok || ek.Curve != elliptic.P256() {
			return false
		}
		d := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(ek, d[:], sig)
	}
	return false
}

// Ed25519Signer signs with an Ed25519 private key.
type Ed25519Signer struct {
	ID  string
	Key ed25519.PrivateKey
}

// KeyID implements Signer.
func (s Ed25519Signer) KeyID() string { return s.ID }

// Algorithm implements Signer.
func (s Ed25519Signer) Algorithm() string { return AlgEd25519 }

// PublicKey implements Signer.
func (s Ed25519Signer) PublicKey() []byte { return s.Key.Public().(ed25519.PublicKey) }

// Sign implements Signer.
func (s Ed25519Signer) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.Key, msg), nil }

// NewCheckpoint builds and signs the checkpoint over entries (consecutive, non-empty).
func NewCheckpoint(entries []Entry, signer Signer, now time.Time) (Checkpoint, error) {
	if len(entries) == 0 {
		return Checkpoint{}, fmt.Errorf("checkpoint: no entries")
	}
	leaves := make([][]byte, len(entries))
	for i, e := range entries {
		leaves[i] = e.Hash
	}
	c := Checkpoint{
		FromSeq: entries[0].Seq, ToSeq: entries[len(entries)-1].Seq,
		Root: MerkleRoot(leaves), HeadHash: bytes.Clone(entries[len(entries)-1].Hash),
		SignedAt: canonicalTime(now), KeyID: signer.KeyID(), Algorithm: signer.Algorithm(), PublicKey: signer.PublicKey(),
	}
	sig, err := signer.Sign(c.SignedMessage())
	if err != nil {
		return Checkpoint{}, fmt.Errorf("sign checkpoint: %w", err)
	}
	c.Signature = sig
	return c, nil
}

// Problem is the first defect Verify found.
type Problem struct {
	Seq    int64
	Reason string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("audit trail broken at seq %d: %s", p.Seq, p.Reason)
}

// Verifier checks a trail as it streams past, in seq order: feed it every entry with Entry,
// then Finish with the checkpoints. The first entry may start after seq 1 (an export): then
// its PrevHash is trusted as the anchor, and the checkpoints prove the range.
type Verifier struct {
	// PublicKey, when set, is the only key checkpoints may be signed with (given out of
	// band: the raw Ed25519 key or a DER SubjectPublicKeyInfo of a P-256 key, as the
	// checkpoint's algorithm wants); unset, each checkpoint's own public key is used, which
	// proves integrity against editors without the signing key but not who signed.
	PublicKey []byte
	// FromStart requires the trail to start at seq 1 (a whole database).
	FromStart bool

	prev    *Entry
	count   int64
	first   int64
	hashes  map[int64][]byte // seq → hash, for the checkpoints
	problem *Problem
}

func (v *Verifier) fail(seq int64, format string, args ...any) {
	if v.problem == nil {
		v.problem = &Problem{Seq: seq, Reason: fmt.Sprintf(format, args...)}
	}
}

// Entry checks one entry against its predecessor.
func (v *Verifier) Entry(e Entry) {
	if v.problem != nil {
		return
	}
	if v.hashes == nil {
		v.hashes = map[int64][]byte{}
	}
	want := int64(1)
	if v.prev != nil {
		want = v.prev.Seq + 1
	} else if !v.FromStart {
		want = e.Seq
	}
	switch {
	case e.Seq > want:
		v.fail(want, "missing (next present is seq %d)", e.Seq)
		return
	case e.Seq < want:
		v.fail(e.Seq, "out of order (after seq %d)", want-1)
		return
	}
	if v.prev == nil {
		v.first = e.Seq
		if v.FromStart && !bytes.Equal(e.PrevHash, make([]byte, HashSize)) {
			v.fail(e.Seq, "first entry's prev_hash is not the genesis hash")
			return
		}
	} else if !bytes.Equal(e.PrevHash, v.prev.Hash) {
		v.fail(e.Seq, "prev_hash does not match seq %d's hash (entry inserted, deleted or replaced)", v.prev.Seq)
		return
	}
	if !bytes.Equal(EntryHash(e), e.Hash) {
		v.fail(e.Seq, "hash does not match its content (entry edited)")
		return
	}
	v.hashes[e.Seq] = e.Hash
	v.prev = &e
	v.count++
}

// Finish checks the checkpoints (in from_seq order) against the entries seen and returns the
// first problem, nil for an intact trail.
func (v *Verifier) Finish(cps []Checkpoint) error {
	if v.problem != nil {
		return v.problem
	}
	var last int64
	if v.prev != nil {
		last = v.prev.Seq
	}
	for _, c := range cps {
		if c.FromSeq < v.first || v.count == 0 {
			continue // before an export's range
		}
		if c.ToSeq > last {
			v.fail(last+1, "missing: checkpoint %d-%d covers entries up to seq %d, the trail ends at seq %d", c.FromSeq, c.ToSeq, c.ToSeq, last)
			return v.problem
		}
		key := c.PublicKey
		if v.PublicKey != nil {
			key = v.PublicKey
		}
		if !VerifySignature(c.Algorithm, key, c.SignedMessage(), c.Signature) {
			v.fail(c.FromSeq, "checkpoint %d-%d: signature does not verify", c.FromSeq, c.ToSeq)
			return v.problem
		}
		leaves := make([][]byte, 0, c.ToSeq-c.FromSeq+1)
		for s := c.FromSeq; s <= c.ToSeq; s++ {
			leaves = append(leaves, v.hashes[s])
		}
		if !bytes.Equal(MerkleRoot(leaves), c.Root) || !bytes.Equal(v.hashes[c.ToSeq], c.HeadHash) {
			// The chain itself verified, so the entries were rewritten consistently from
			// somewhere in the interval: name its first entry whose hash is not the one signed
			// when we can tell (the head), else the interval's start.
			v.fail(c.FromSeq, "checkpoint %d-%d: entries differ from the signed Merkle root (rewritten chain)", c.FromSeq, c.ToSeq)
			return v.problem
		}
	}
	return nil
}

// Count is the number of entries verified.
func (v *Verifier) Count() int64 { return v.count }

// SignerFromSettings is the Ed25519 signer of seed (AUDIT_SIGNING_KEY: base64 of the 32-byte
// seed) named id.
func SignerFromSettings(id, seed string) (Ed25519Signer, error) {
	b, err := base64.StdEncoding.DecodeString(seed)
	if err != nil || len(b) != ed25519.SeedSize {
		return Ed25519Signer{}, fmt.Errorf("AUDIT_SIGNING_KEY: want base64 of a 32-byte Ed25519 seed")
	}
	if id == "" {
		id = "settings"
	}
	return Ed25519Signer{ID: id, Key: ed25519.NewKeyFromSeed(b)}, nil
}

// Checkpoints signs the trail's new entries every interval until ctx ends (and once more at
// the end, best effort).
func Checkpoints(ctx context.Context, log AuditLog, signer Signer, interval time.Duration, failed func(error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			end, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _, err := log.Checkpoint(end, signer, time.Now())
			cancel()
			if err != nil && failed != nil {
				failed(err)
			}
			return nil
		case <-t.C:
			if _, _, err := log.Checkpoint(ctx, signer, time.Now()); err != nil && failed != nil {
				failed(err)
			}
		}
	}
}

// ParsePublicKey checks a checkpoint signer's public key given out of band (audit verify
// --public-key): a raw 32-byte Ed25519 key, or a DER SubjectPublicKeyInfo of an Ed25519 or
// P-256 key (what KMS GetPublicKey returns). It returns the key in the form checkpoints carry.
func ParsePublicKey(b []byte) ([]byte, error) {
	if len(b) == ed25519.PublicKeySize {
		return b, nil
	}
	k, err := x509.ParsePKIXPublicKey(b)
	if err != nil {
		return nil, errors.New("want a raw 32-byte Ed25519 key or a DER SubjectPublicKeyInfo")
	}
	switch k := k.(type) {
	case ed25519.PublicKey:
		return k, nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return b, nil
		}
	}
	return nil, errors.New("want an Ed25519 or ECDSA P-256 key")
}
