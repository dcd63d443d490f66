// Package iamdoc builds IAM policy documents as Go values and renders them to JSON, so that no
// program needs a getPolicyDocument invoke and every document can be read in the code.
package iamdoc

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement. Principal and Condition are maps as IAM spells them.
type Statement struct {
	Sid       string                       `json:"Sid,omitempty"`
	Effect    string                       `json:"Effect"`
	Principal map[string]any               `json:"Principal,omitempty"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource,omitempty"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// New returns a document of statements.
func New(statements ...Statement) Document {
	return Document{Version: "2012-10-17", Statement: statements}
}

// Allow is an Allow statement.
func Allow(sid string, actions []string, resources ...string) Statement {
	return Statement{Sid: sid, Effect: "Allow", Action: actions, Resource: resources}
}

// String renders the document.
func (d Document) String() string {
	b, err := json.Marshal(d)
	if err != nil { // cannot happen: the document holds only strings and maps of strings
		panic(fmt.Sprintf("iamdoc: %v", err))
	}
	return string(b)
}

// Render builds a document from the resolved values of inputs (ARNs, ids) and renders it.
func Render(build func(values []string) Document, inputs ...pulumi.StringInput) pulumi.StringOutput {
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in
	}
	return pulumi.All(args...).ApplyT(func(vs []any) string {
		values := make([]string, len(vs))
		for i, v := range vs {
			values[i], _ = v.(string)
		}
		return build(values).String()
	}).(pulumi.StringOutput)
}

// AssumeRole is the trust policy letting an AWS service assume a role.
func AssumeRole(service string) string {
	return New(Statement{Effect: "Allow", Principal: map[string]any{"Service": service}, Action: []string{"sts:AssumeRole"}}).String()
}

// IRSATrust is the trust policy letting one Kubernetes service account assume a role through
// the cluster's OIDC provider (providerURL without https://).
func IRSATrust(providerARN, providerURL, namespace, serviceAccount string) Document {
	return New(Statement{
		Effect: "Allow", Principal: map[string]any{"Federated": providerARN},
		Action: []string{"sts:AssumeRoleWithWebIdentity"},
		Condition: map[string]map[string]string{"StringEquals": {
			providerURL + ":sub": "system:serviceaccount:" + namespace + ":" + serviceAccount,
			providerURL + ":aud": "sts.amazonaws.com",
		}},
	})
}

// KeyPolicy is a customer KMS key's policy: the account administers and uses the key through
// IAM, and CloudWatch Logs of the region may use it for the account's log groups.
func KeyPolicy(partition, region, account string) Document {
	return New(
		Statement{Sid: "AccountAdministers", Effect: "Allow", Principal: map[string]any{"AWS": fmt.Sprintf("arn:%s:iam::%s:root", partition, account)},
			Action: []string{"kms:*"}, Resource: []string{"*"}},
		Statement{Sid: "CloudWatchLogsEncrypt", Effect: "Allow", Principal: map[string]any{"Service": fmt.Sprintf("logs.%s.amazonaws.com", region)},
			Action: []string{"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"}, Resource: []string{"*"},
			Condition: map[string]map[string]string{"ArnLike": {"kms:EncryptionContext:aws:logs:arn": fmt.Sprintf("arn:%s:logs:%s:%s:*", partition, region, account)}}},
		Statement{Sid: "CloudWatchAlarmsPublish", Effect: "Allow", Principal: map[string]any{"Service": "cloudwatch.amazonaws.com"},
			Action: []string{"kms:Decrypt", "kms:GenerateDataKey*"}, Resource: []string{"*"}},
	)
}
