package iamdoc

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestIRSATrustScopesToOneServiceAccount(t *testing.T) {
	doc := IRSATrust("arn:aws:iam::1:oidc-provider/oidc.eks/id/X", "oidc.eks/id/X", "cantondex", "topics")
	var back map[string]any
	if err := json.Unmarshal([]byte(doc.String()), &back); err != nil {
		t.Fatal(err)
	}
	s := doc.String()
	for _, want := range []string{`"oidc.eks/id/X:sub":"system:serviceaccount:cantondex:topics"`, `"oidc.eks/id/X:aud":"sts.amazonaws.com"`, `"Federated":"arn:aws:iam::1:oidc-provider/oidc.eks/id/X"`, `"Version":"2012-10-17"`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %s", s, want)
		}
	}
}

func TestKeyPolicyLimitsLogsToTheAccount(t *testing.T) {
	s := KeyPolicy("aws", "eu-west-1", "123").String()
	if !strings.Contains(s, `"kms:EncryptionContext:aws:logs:arn":"arn:aws:logs:eu-west-1:123:*"`) || !strings.Contains(s, "logs.eu-west-1.amazonaws.com") {
		t.Fatal(s)
	}
}
