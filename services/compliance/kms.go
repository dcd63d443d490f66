package compliance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMSAPI is the part of the AWS KMS client KMSSigner uses (*kms.Client).
type KMSAPI interface {
	Sign(ctx context.Context, in *kms.SignInput, opts ...func(*kms.Options)) (*kms.SignOutput, error)
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, opts ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// KMSSigner signs checkpoints with an AWS KMS asymmetric key (key spec ECC_NIST_P256, usage
// SIGN_VERIFY) through the KMS Sign API: ECDSA_SHA_256 over the raw message, so the private
// key never leaves KMS. Its public key (DER SubjectPublicKeyInfo) is read once, by
// NewKMSSigner; its key id is the key's ARN.
type KMSSigner struct {
	client  KMSAPI
	arn     string
	public  []byte
	timeout time.Duration
}

// NewKMSSigner reads key's public key and checks that it is a P-256 signing key.
func NewKMSSigner(ctx context.Context, client KMSAPI, key string) (*KMSSigner, error) {
	out, err := client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("AUDIT_KMS_KEY_ID %s: get public key: %w", key, err)
	}
	if out.KeySpec != types.KeySpecEccNistP256 || out.KeyUsage != types.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("AUDIT_KMS_KEY_ID %s: key is %s/%s, want ECC_NIST_P256/SIGN_VERIFY", key, out.KeySpec, out.KeyUsage)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if ek, ok := pub.(*ecdsa.PublicKey); err != nil || !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("AUDIT_KMS_KEY_ID %s: public key is not a P-256 SubjectPublicKeyInfo", key)
	}
	arn := aws.ToString(out.KeyId)
	if arn == "" {
		arn = key
	}
	return &KMSSigner{client: client, arn: arn, public: out.PublicKey, timeout: 10 * time.Second}, nil
}

// KeyID implements Signer: the key's ARN.
func (s *KMSSigner) KeyID() string { return s.arn }

// Algorithm implements Signer.
func (s *KMSSigner) Algorithm() string { return AlgECDSAP256SHA256 }

// PublicKey implements Signer: the DER SubjectPublicKeyInfo.
func (s *KMSSigner) PublicKey() []byte { return s.public }

// Sign implements Signer.
func (s *KMSSigner) Sign(msg []byte) ([]byte, error) {
	if len(msg) > 4096 {
		return nil, errors.New("kms sign: message over 4096 bytes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	out, err := s.client.Sign(ctx, &kms.SignInput{
		KeyId:            aws.String(s.arn),
		Message:          msg,
		MessageType:      types.MessageTypeRaw,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return nil, fmt.Errorf("kms sign: %w", err)
	}
	return out.Signature, nil
}
