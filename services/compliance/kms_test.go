package compliance_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/compliance"
	"github.com/cantondex/platform/services/compliance/kmstest"
)

func TestKMSSignerCheckpointVerifies(t *testing.T) {
	ctx := context.Background()
	f := kmstest.New(t)
	signer, err := compliance.NewKMSSigner(ctx, f.Client(), kmstest.KeyARN)
	require.NoError(t, err)
	assert.Equal(t, kmstest.KeyARN, signer.KeyID())
	assert.Equal(t, compliance.AlgECDSAP256SHA256, signer.Algorithm())
	der := f.PublicKeyDER()
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
	assert.Equal(t, kmstest.KeyARN, c.KeyID)

	// The request KMS saw: the key, ECDSA_SHA_256 over the raw checkpoint message.
	assert.Equal(t, []kmstest.SignRequest{{KeyId: kmstest.KeyARN, SigningAlgorithm: "ECDSA_SHA_256", MessageType: "RAW", Message: c.SignedMessage()}}, f.Signs())

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
	f := kmstest.New(t)
	_, err := compliance.NewKMSSigner(ctx, f.Client(), "arn:aws:kms:eu-central-1:111122223333:key/other")
	assert.ErrorContains(t, err, "get public key")
	f.KeySpec = "ECC_NIST_P384"
	_, err = compliance.NewKMSSigner(ctx, f.Client(), kmstest.KeyARN)
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
