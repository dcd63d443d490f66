package stacks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const realCert = "arn:aws:acm:us-east-1:210987654321:certificate/1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"

func TestEdgeDefaultsAndOverrides(t *testing.T) {
	s, err := Load("prod", "", mapSource{})
	require.NoError(t, err)
	assert.Equal(t, PlaceholderCertificateARN("us-east-1"), s.Edge.CertificateARN)
	assert.Error(t, s.Edge.CheckDeployable(s.Region), "the placeholder certificate is not deployable")
	eu, err := Load("prod", "eu-central-1", mapSource{})
	require.NoError(t, err)
	assert.Equal(t, PlaceholderCertificateARN("eu-central-1"), eu.Edge.CertificateARN, "the placeholder follows the region")

	s, err = Load("staging", "", mapSource{"edge": `{"certificateArn":"` + realCert + `","rateLimit":500}`})
	require.NoError(t, err)
	assert.Equal(t, 500, s.Edge.RateLimit)
	assert.Equal(t, 30, s.Edge.LogRetentionDays, "defaults kept")
	assert.NoError(t, s.Edge.CheckDeployable(s.Region))
}

func TestEdgeIsValidated(t *testing.T) {
	for name, c := range map[string]struct{ stack, value, want string }{
		"no certificate":      {"staging", `{"certificateArn":""}`, "cantondex:edge.certificateArn: is required: the ALB serves HTTPS only"},
		"not an ACM ARN":      {"prod", `{"certificateArn":"arn:aws:iam::210987654321:server-certificate/x"}`, "cantondex:edge.certificateArn: \"arn:aws:iam"},
		"another region":      {"prod", `{"certificateArn":"arn:aws:acm:eu-west-1:210987654321:certificate/1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"}`, "the certificate is in eu-west-1 but the ALB is in us-east-1"},
		"rate limit too low":  {"prod", `{"rateLimit":5}`, "cantondex:edge.rateLimit: 5 is outside"},
		"retention not valid": {"prod", `{"logRetentionDays":2}`, "cantondex:edge.logRetentionDays"},
		"typo":                {"prod", `{"ratelimit":5}`, "cantondex:edge"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(c.stack, "", mapSource{"edge": c.value})
			assert.ErrorContains(t, err, c.want)
		})
	}
}
