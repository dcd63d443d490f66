// Package kmstest is a fake AWS KMS for tests: an httptest server speaking the KMS JSON 1.1
// protocol for GetPublicKey and Sign on one ECC_NIST_P256 key, signing with a local ECDSA
// key and recording the Sign requests.
package kmstest

import (
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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// KeyARN is the one key the fake knows.
const KeyARN = "arn:aws:kms:eu-central-1:111122223333:key/0b6f3a52-1c2d-4e5f-8a9b-0c1d2e3f4a5b"

// SignRequest is one Sign call as the fake received it.
type SignRequest struct {
	KeyId, SigningAlgorithm, MessageType string
	Message                              []byte // the decoded base64 blob
}

// KMS is the fake.
type KMS struct {
	Key *ecdsa.PrivateKey
	URL string
	// KeySpec GetPublicKey reports (ECC_NIST_P256 unless changed).
	KeySpec string

	mu    sync.Mutex
	signs []SignRequest
}

// New starts a fake closed at the test's end.
func New(t testing.TB) *KMS {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &KMS{Key: key, KeySpec: "ECC_NIST_P256"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// Client is a KMS client of the fake (its BaseEndpoint, static credentials).
func (f *KMS) Client() *kms.Client {
	return kms.NewFromConfig(aws.Config{
		Region:      "eu-central-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example-secret", ""),
	}, func(o *kms.Options) { o.BaseEndpoint = aws.String(f.URL) })
}

// PublicKeyDER is the key's DER SubjectPublicKeyInfo.
func (f *KMS) PublicKeyDER() []byte {
	der, _ := x509.MarshalPKIXPublicKey(&f.Key.PublicKey)
	return der
}

// Signs returns the Sign requests so far.
func (f *KMS) Signs() []SignRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SignRequest(nil), f.signs...)
}

func fail(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func (f *KMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in SignRequest
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(w, "SerializationException", "bad JSON")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		fail(w, "MissingAuthenticationTokenException", "unsigned request")
		return
	}
	if in.KeyId != KeyARN {
		fail(w, "NotFoundException", "no such key")
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch r.Header.Get("X-Amz-Target") {
	case "TrentService.GetPublicKey":
		_ = json.NewEncoder(w).Encode(map[string]any{
			"KeyId": KeyARN, "KeySpec": f.KeySpec, "KeyUsage": "SIGN_VERIFY",
			"PublicKey": f.PublicKeyDER(), "SigningAlgorithms": []string{"ECDSA_SHA_256"},
		})
	case "TrentService.Sign":
		f.mu.Lock()
		f.signs = append(f.signs, in)
		f.mu.Unlock()
		if in.SigningAlgorithm != "ECDSA_SHA_256" || in.MessageType != "RAW" {
			fail(w, "InvalidKeyUsageException", "want ECDSA_SHA_256 over a RAW message")
			return
		}
		d := sha256.Sum256(in.Message)
		sig, err := ecdsa.SignASN1(rand.Reader, f.Key, d[:])
		if err != nil {
			fail(w, "KMSInternalException", err.Error())
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"KeyId": KeyARN, "Signature": sig, "SigningAlgorithm": "ECDSA_SHA_256"})
	default:
		fail(w, "UnsupportedOperationException", "unknown target")
	}
}
