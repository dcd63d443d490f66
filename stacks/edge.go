package stacks

import (
	"fmt"
	"regexp"
)

// Edge is the api's public edge (cantondex:edge): the ALB's certificate and the WAF in front of
// it. There is no HTTP-only mode: the ALB listens on HTTPS and redirects HTTP.
type Edge struct {
	// CertificateARN is the ACM certificate (in the stack's region) of the api's domain. The
	// stack files carry PlaceholderCertificateARN until the domain's certificate exists; the
	// offline plan and `pulumi preview` accept it, `pulumi up` refuses it.
	CertificateARN string `json:"certificateArn"`
	// RateLimit is the WAF's rate-based rule: requests per client IP in any 5-minute window
	// before the IP is blocked (AWS WAF counts over 5 minutes; 10 to 2e9).
	RateLimit int `json:"rateLimit"`
	// LogRetentionDays keeps the WAF's logs (a KMS-encrypted log group).
	LogRetentionDays int `json:"logRetentionDays"`
}

// PlaceholderCertificateARN is the clearly fake certificate of the stack files (account
// 000000000000 does not exist).
func PlaceholderCertificateARN(region string) string {
	return "arn:aws:acm:" + region + ":000000000000:certificate/00000000-0000-0000-0000-000000000000"
}

func defaultEdge(env Environment, region string) Edge {
	e := Edge{CertificateARN: PlaceholderCertificateARN(region), RateLimit: 2000, LogRetentionDays: 365}
	if env == Staging {
		e.RateLimit, e.LogRetentionDays = 1000, 30
	}
	return e
}

var certificateARN = regexp.MustCompile(`^arn:aws[a-z-]*:acm:([a-z0-9-]+):[0-9]{12}:certificate/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func (e *Edge) validate(v *validator, region string) {
	switch m := certificateARN.FindStringSubmatch(e.CertificateARN); {
	case e.CertificateARN == "":
		v.errorf("edge.certificateArn", "is required: the ALB serves HTTPS only (an ACM certificate ARN of %s)", region)
	case m == nil:
		v.errorf("edge.certificateArn", "%q is not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>)", e.CertificateARN)
	case m[1] != region:
		v.errorf("edge.certificateArn", "the certificate is in %s but the ALB is in %s: ACM certificates are regional", m[1], region)
	}
	if e.RateLimit < 10 || e.RateLimit > 2_000_000_000 {
		v.errorf("edge.rateLimit", "%d is outside 10 to 2000000000 requests per 5 minutes", e.RateLimit)
	}
	validateRetention(v, "edge.logRetentionDays", e.LogRetentionDays)
}

// CheckDeployable refuses the placeholder certificate: `pulumi up` needs the real one.
func (e Edge) CheckDeployable(region string) error {
	if e.CertificateARN == PlaceholderCertificateARN(region) {
		return fmt.Errorf("%s:edge.certificateArn: the stack file's placeholder certificate cannot be deployed; set the ACM certificate of the api's domain", Namespace)
	}
	return nil
}
