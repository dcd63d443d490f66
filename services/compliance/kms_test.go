package compliance_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/compliance"
)

const testKeyARN = "arn:aws:kms:eu-central-1:111122223333:key/0b6f3a52-1c2d-4e5f-8a9b-0c1d2e3f4a5b"

// fakeKMS speaks the KMS JSON 1.1 protocol for GetPublicKey and Sign, signing with a local
// P-256 key, and records the Sign requests.
type fakeKMS struct {
	key     *ecdsa.PrivateKey
	keySpec string

	mu    sync.Mutex
	signs []map[string]string
}

func newFakeKMS(t *testing.T) (*fakeKMS, *kms.Client) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	f := &fakeKMS{key: key, keySpec: "ECC_NIST_P256"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	client := kms.NewFromConfig(aws.Config{
		Region:      "eu-central-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	}, func(o *kms.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return f, client
}

func (f *fakeKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in map[string]string
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		http.Error(w, `{"__type":"ValidationException","message":"bad request"}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if in["KeyId"] != testKeyARN {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"NotFoundException","message":"no such key"}`))
		return
	}
	switch r.Header.Get("X-Amz-Target") {
	case "TrentService.GetPublicKey":
		der, _ := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"KeyId": testKeyARN, "KeySpec": f.keySpec, "KeyUsage": "SIGN_VERIFY",
			"PublicKey": der, "SigningAlgorithms": []string{"ECDSA_SHA_256"},
		})
	case "TrentService.Sign":
		f.mu.Lock()
		f.signs = append(f.signs, in)
		f.mu.Unlock()
		var raw struct{ Message []byte } // the base64 blob
		_ = json.Unmarshal(mustJSON(in), &raw)
		d := sha256.Sum256(raw.Message)
		sig, _ := ecdsa.SignASN1(rand.Reader, f.key, d[:])
		_ = json.NewEncoder(w).Encode(map[string]any{"KeyId": testKeyARN, "Signature": sig, "SigningAlgorithm": "ECDSA_SHA_256"})
	default:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"UnsupportedOperationException","message":"unknown target"}`))
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func TestKMSSignerCheckpointVerifies(t *testing.T) {
	ctx := context.Background()
	f, client := newFakeKMS(t)
	signer, err := compliance.NewKMSSigner(ctx, client, testKeyARN)
	require.NoError(t, err)
	assert.Equal(t, testKeyARN, signer.KeyID())
	assert.Equal(t, compliance.AlgECDSAP256SHA256, signer.Algorithm())
	der, err := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	require.NoError(t, err)
	assert.Equal(t, der, signer.PublicKey())

	m := compliance.NewMemory()
	for i := 0; i < 5; i++ {
		_, err := m.Append(ctx, compliance.Record{Actor: "system", Kind: "order.new", Subject: "o", Payload: map[string]int{"i": i}})
		require.NoError(t, err)
	}
	c, ok, err := m.Checkpoint(ctx, signer, time.Now())
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, compliance.AlgECDSAP256SHA256, c.Algorithm)
	assert.Equal(t, testKeyARN, c.KeyID)

	// The request KMS saw: the key, ECDSA_SHA_256 over the raw checkpoint message.
	require.Len(t, f.signs, 1)
	req := f.signs[0]
	assert.Equal(t, testKeyARN, req["KeyId"])
	assert.Equal(t, "ECDSA_SHA_256", req["SigningAlgorithm"])
	assert.Equal(t, "RAW", req["MessageType"])
	var raw struct{ Message []byte }
	require.NoError(t, json.Unmarshal(mustJSON(req), &raw))
	assert.Equal(t, c.SignedMessage(), raw.Message)

	// audit verify's logic: accepted with the checkpoint's key and with the key pinned.
	require.NoError(t, compliance.Verify(ctx, m, &compliance.Verifier{}))
	pinned, err := compliance.ParsePublicKey(der)
	require.NoError(t, err)
	require.NoError(t, compliance.Verify(ctx, m, &compliance.Verifier{PublicKey: pinned}))

	// Tampered: a field the signature covers, the signature, the algorithm, another key.
	var entries []compliance.Entry
	require.NoError(t, m.Entries(ctx, 1, 0, func(e compliance.Entry) error { entries = append(entries, e); return nil }))
	check := func(c compliance.Checkpoint, v *compliance.Verifier) error {
		for _, e := range entries {
			v.Entry(e)
		}
		return v.Finish([]compliance.Checkpoint{c})
	}
	require.NoError(t, check(c, &compliance.Verifier{}))
	later := c
	later.SignedAt = c.SignedAt.Add(time.Second)
	assert.ErrorContains(t, check(later, &compliance.Verifier{}), "signature does not verify")
	badSig := c
	badSig.Signature = append([]byte(nil), c.Signature...)
	badSig.Signature[len(badSig.Signature)-1] ^= 1
	assert.ErrorContains(t, check(badSig, &compliance.Verifier{}), "signature does not verify")
	asEd := c
	asEd.Algorithm = compliance.AlgEd25519
	assert.ErrorContains(t, check(asEd, &compliance.Verifier{}), "signature does not verify")
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	otherDER, err := x509.MarshalPKIXPublicKey(&other.PublicKey)
	require.NoError(t, err)
	assert.ErrorContains(t, check(c, &compliance.Verifier{PublicKey: otherDER}), "signature does not verify")
}

func TestKMSSignerRefusesWrongKey(t *testing.T) {
	ctx := context.Background()
	f, client := newFakeKMS(t)
	_, err := compliance.NewKMSSigner(ctx, client, "arn:aws:kms:eu-central-1:111122223333:key/other")
	assert.ErrorContains(t, err, "get public key")
	f.keySpec = "ECC_NIST_P384"
	_, err = compliance.NewKMSSigner(ctx, client, testKeyARN)
	assert.ErrorContains(t, err, "want ECC_NIST_P256/SIGN_VERIFY")
}

func TestParsePublicKey(t *testing.T) {
	_, err := compliance.ParsePublicKey([]byte("short"))
	assert.Error(t, err)
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	_, err = compliance.ParsePublicKey(der)
	assert.ErrorContains(t, err, "P-256")
}
