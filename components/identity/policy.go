// Package identity holds the IAM side of the platform: the cluster and node roles, KMS keys with
// rotation, IAM roles for Kubernetes service accounts (IRSA), and a small typed builder for IAM
// policy documents, so that policies are Go values checked before anything is deployed rather
// than JSON strings or getPolicyDocument invokes.
package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Effect of a statement.
type Effect string

const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Principal is who a trust or resource policy statement applies to: Type is "AWS", "Service" or
// "Federated".
type Principal struct {
	Type        string
	Identifiers []pulumi.StringInput
}

// Condition is one IAM condition: Test ("StringEquals"), Variable ("<issuer>:sub") and the
// values it must match. Variable is an input because IRSA conditions are keyed by the OIDC
// issuer, which is only known once the cluster exists.
type Condition struct {
	Test     string
	Variable pulumi.StringInput
	Values   []pulumi.StringInput
}

// Statement is one statement of a policy document.
type Statement struct {
	Sid        string
	Effect     Effect // Allow when empty
	Principals []Principal
	Actions    []string
	Resources  []pulumi.StringInput
	Conditions []Condition
}

// Document is an IAM policy document.
type Document struct {
	Statements []Statement
}

// Strings turns plain strings into inputs, for Resources and condition values.
func Strings(values ...string) []pulumi.StringInput {
	out := make([]pulumi.StringInput, len(values))
	for i, v := range values {
		out[i] = pulumi.String(v)
	}
	return out
}

// ServicePrincipal is an AWS service ("eks.amazonaws.com").
func ServicePrincipal(services ...string) Principal {
	return Principal{Type: "Service", Identifiers: Strings(services...)}
}

// AWSPrincipal is an account or role ARN.
func AWSPrincipal(arns ...pulumi.StringInput) Principal {
	return Principal{Type: "AWS", Identifiers: arns}
}

// FederatedPrincipal is an identity provider ARN, such as a cluster's OIDC provider.
func FederatedPrincipal(arn pulumi.StringInput) Principal {
	return Principal{Type: "Federated", Identifiers: []pulumi.StringInput{arn}}
}

// Validate checks what can be checked before deployment: every statement has actions of the
// form service:Action, a known effect, and no Allow grants every action ("*") on every
// resource ("*").
func (d Document) Validate() error {
	if len(d.Statements) == 0 {
		return errors.New("policy document has no statements")
	}
	var errs []error
	for i, s := range d.Statements {
		at := fmt.Sprintf("statement %d", i)
		if s.Sid != "" {
			at = fmt.Sprintf("statement %q", s.Sid)
		}
		if s.Effect != "" && s.Effect != Allow && s.Effect != Deny {
			errs = append(errs, fmt.Errorf("%s: effect %q is not Allow or Deny", at, s.Effect))
		}
		if len(s.Actions) == 0 {
			errs = append(errs, fmt.Errorf("%s: no actions", at))
		}
		for _, a := range s.Actions {
			if a != "*" && !strings.Contains(a, ":") {
				errs = append(errs, fmt.Errorf("%s: action %q is not service:Action", at, a))
			}
		}
		if s.Effect != Deny && contains(s.Actions, "*") && s.allResources() {
			errs = append(errs, fmt.Errorf(`%s: allows every action ("*") on every resource ("*")`, at))
		}
		for _, c := range s.Conditions {
			if c.Test == "" || c.Variable == nil || len(c.Values) == 0 {
				errs = append(errs, fmt.Errorf("%s: a condition needs a test, a variable and values", at))
			}
		}
	}
	return errors.Join(errs...)
}

// allResources reports whether the statement applies to every resource: an explicit "*", or no
// resources at all in a statement without principals (an identity policy).
func (s Statement) allResources() bool {
	if len(s.Resources) == 0 {
		return len(s.Principals) == 0
	}
	for _, r := range s.Resources {
		if v, ok := r.(pulumi.String); ok && string(v) == "*" {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// JSON renders the document once every input it references is known.
func (d Document) JSON() pulumi.StringOutput {
	// Gather every input, render with the resolved values by position.
	var inputs []any
	add := func(in pulumi.StringInput) int {
		inputs = append(inputs, in)
		return len(inputs) - 1
	}
	type condRef struct {
		test     string
		variable int
		values   []int
	}
	type stmtRef struct {
		s          Statement
		principals [][]int
		resources  []int
		conds      []condRef
	}
	refs := make([]stmtRef, len(d.Statements))
	for i, s := range d.Statements {
		ref := stmtRef{s: s}
		for _, p := range s.Principals {
			var ids []int
			for _, id := range p.Identifiers {
				ids = append(ids, add(id))
			}
			ref.principals = append(ref.principals, ids)
		}
		for _, r := range s.Resources {
			ref.resources = append(ref.resources, add(r))
		}
		for _, c := range s.Conditions {
			cr := condRef{test: c.Test, variable: add(c.Variable)}
			for _, v := range c.Values {
				cr.values = append(cr.values, add(v))
			}
			ref.conds = append(ref.conds, cr)
		}
		refs[i] = ref
	}
	return pulumi.All(inputs...).ApplyT(func(vals []any) (string, error) {
		str := func(i int) string { s, _ := vals[i].(string); return s }
		strs := func(idx []int) any {
			out := make([]string, len(idx))
			for i, x := range idx {
				out[i] = str(x)
			}
			if len(out) == 1 {
				return out[0]
			}
			return out
		}
		doc := policyJSON{Version: "2012-10-17"}
		for _, ref := range refs {
			st := statementJSON{Sid: ref.s.Sid, Effect: string(ref.s.Effect)}
			if st.Effect == "" {
				st.Effect = string(Allow)
			}
			if len(ref.s.Actions) == 1 {
				st.Action = ref.s.Actions[0]
			} else {
				st.Action = ref.s.Actions
			}
			if len(ref.resources) > 0 {
				st.Resource = strs(ref.resources)
			}
			if len(ref.principals) > 0 {
				st.Principal = map[string]any{}
				for j, p := range ref.s.Principals {
					st.Principal[p.Type] = strs(ref.principals[j])
				}
			}
			if len(ref.conds) > 0 {
				st.Condition = map[string]map[string]any{}
				for _, c := range ref.conds {
					if st.Condition[c.test] == nil {
						st.Condition[c.test] = map[string]any{}
					}
					st.Condition[c.test][str(c.variable)] = strs(c.values)
				}
			}
			doc.Statement = append(doc.Statement, st)
		}
		b, err := json.Marshal(doc)
		return string(b), err
	}).(pulumi.StringOutput)
}

type policyJSON struct {
	Version   string          `json:"Version"`
	Statement []statementJSON `json:"Statement"`
}

type statementJSON struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Principal map[string]any            `json:"Principal,omitempty"`
	Action    any                       `json:"Action"`
	Resource  any                       `json:"Resource,omitempty"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}
