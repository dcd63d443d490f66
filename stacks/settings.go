// Package stacks holds the typed settings of a CantonDEX stack: defaults per environment,
// loading from Pulumi config, and validation in one place. Everything that differs between
// prod and staging lives here and in the Pulumi.<stack>.yaml files, nowhere else.
//
// Config keys live in the `cantondex` namespace, one structured value per concern:
//
//	cantondex:environment   prod | staging (defaults to the stack name)
//	cantondex:network       Network
//	cantondex:cluster       Cluster
//	cantondex:nodeGroups    []NodeGroup (replaces the defaults as a whole)
//	cantondex:database ...  the data tier (data.go)
//	cantondex:workloads     the catalog's Kubernetes workloads (workloads.go)
//	cantondex:accountSecurity  AccountSecurity (accountsecurity.go)
//	cantondex:images        Images: digests per service (images.go), set by CI
//	cantondex:registry      Registry: ECR lifecycle (images.go)
//	cantondex:edge          Edge: ALB certificate and WAF (edge.go)
//	cantondex:observability    Observability (observability.go)
//	cantondex:logging       Logging: Fluent Bit's log groups (observability.go)
//	cantondex:autoscaling   Autoscaling: the cluster autoscaler (observability.go)
//
// A structured value is decoded over the environment's defaults, so a stack file names only
// what it changes; unknown fields are an error, so a typo cannot pass silently.
package stacks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Namespace is the Pulumi config namespace of the project's settings.
const Namespace = "cantondex"

// Environment is the kind of stack.
type Environment string

const (
	Prod    Environment = "prod"
	Staging Environment = "staging"
)

// Settings is everything a stack is built from.
type Settings struct {
	Environment Environment       `json:"environment"`
	Region      string            `json:"region"`
	DRRegion    string            `json:"drRegion"`
	Tags        map[string]string `json:"tags"`
	Network     Network           `json:"network"`
	Cluster     Cluster           `json:"cluster"`
	NodeGroups  []NodeGroup       `json:"nodeGroups"`
	Data        Data              `json:"data"`
	Workloads   Workloads         `json:"workloads"`
	// AccountSecurity is CloudTrail, GuardDuty, Security Hub, AWS Config and Access Analyzer.
	AccountSecurity AccountSecurity `json:"accountSecurity"`
	Images          Images          `json:"images"`
	Registry        Registry        `json:"registry"`
	Edge            Edge            `json:"edge"`
	// Observability is the metrics stack's retention, storage and service levels.
	Observability Observability `json:"observability"`
	// Logging is Fluent Bit's log groups' retention and buffer; Autoscaling the cluster
	// autoscaler's scale-down behaviour.
	Logging     Logging     `json:"logging"`
	Autoscaling Autoscaling `json:"autoscaling"`
	// Warnings are notes about accepted but discouraged values (a version past end of support);
	// the program logs them.
	Warnings []string `json:"-"`
}

// Defaults returns the settings of an environment before its stack file is applied.
func Defaults(env Environment) (Settings, error) {
	switch env {
	case Prod, Staging:
	default:
		return Settings{}, fmt.Errorf("%s:environment: %q is not one of prod, staging", Namespace, env)
	}
	s := Settings{
		Environment: env,
		Region:      "us-east-1",
		DRRegion:    "eu-west-1",
		Tags:        map[string]string{"project": "cantondex", "environment": string(env), "managed-by": "pulumi"},
		Network:     defaultNetwork(env),
		Cluster:     defaultCluster(env),
		NodeGroups:  defaultNodeGroups(env),
		Data:        defaultData(env),
		Workloads:   defaultWorkloads(env),

		AccountSecurity: defaultAccountSecurity(env),
		Registry:        defaultRegistry(env),
		Observability:   defaultObservability(env),
		Logging:         defaultLogging(env),
		Autoscaling:     defaultAutoscaling(env),
	}
	s.Edge = defaultEdge(env, s.Region)
	return s, nil
}

// Source is where settings come from: Pulumi config in the `cantondex` namespace, read by
// key without the namespace. ok is false when the key is not set.
type Source interface {
	Get(key string) (value string, ok bool)
}

// Load builds a stack's settings: the environment's defaults, then every structured value
// present in src decoded over them, then validation. stack is the Pulumi stack name, used as
// the environment when cantondex:environment is not set. region is the aws:region setting ("" to
// keep the default).
func Load(stack, region string, src Source) (Settings, error) {
	env := Environment(stack)
	if v, ok := src.Get("environment"); ok {
		env = Environment(v)
	}
	s, err := Defaults(env)
	if err != nil {
		return Settings{}, err
	}
	if region != "" {
		s.Region = region
	}
	s.Edge.CertificateARN = PlaceholderCertificateARN(s.Region)
	fields := []struct {
		key string
		dst any
	}{
		{"drRegion", &s.DRRegion},
		{"tags", &s.Tags},
		{"network", &s.Network},
		{"cluster", &s.Cluster},
		{"nodeGroups", &s.NodeGroups},
		{"data", &s.Data},
		{"workloads", &s.Workloads},
		{"accountSecurity", &s.AccountSecurity},
		{"images", &s.Images},
		{"registry", &s.Registry},
		{"edge", &s.Edge},
		{"observability", &s.Observability},
		{"logging", &s.Logging},
		{"autoscaling", &s.Autoscaling},
	}
	for _, f := range fields {
		raw, ok := src.Get(f.key)
		if !ok {
			continue
		}
		if f.key == "nodeGroups" {
			s.NodeGroups = nil // a stack's list replaces the defaults
		}
		if err := decodeStrict(raw, f.dst); err != nil {
			// A plain string setting (drRegion) arrives unquoted.
			if str, isString := f.dst.(*string); isString {
				*str = raw
				continue
			}
			return Settings{}, fmt.Errorf("%s:%s: %w", Namespace, f.key, err)
		}
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

func decodeStrict(raw string, dst any) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("cannot read %q: %w", truncate(raw, 80), err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Validate checks every setting and returns all problems at once, each naming the setting
// (cantondex:cluster.version) and what it allows. It also fills Warnings.
func (s *Settings) Validate() error {
	v := &validator{}
	if s.Environment != Prod && s.Environment != Staging {
		v.errorf("environment", "%q is not one of prod, staging", s.Environment)
	}
	if s.Region == "" {
		v.errorf("region", "must be set (aws:region)")
	}
	if s.DRRegion == "" || s.DRRegion == s.Region {
		v.errorf("drRegion", "%q must be set and differ from the primary region %q", s.DRRegion, s.Region)
	}
	s.Network.validate(v, s.Environment)
	s.Cluster.validate(v, s.Environment)
	validateNodeGroups(v, s.NodeGroups)
	s.Data.validate(v, s)
	s.Workloads.validate(v, s)
	s.AccountSecurity.validate(v, s.Environment)
	s.Images.validate(v)
	s.Registry.validate(v, s.Environment)
	s.Edge.validate(v, s.Region)
	s.Observability.validate(v)
	s.Logging.validate(v)
	s.Autoscaling.validate(v)
	s.Warnings = v.warnings
	return v.err()
}

// validator collects problems keyed by setting path.
type validator struct {
	problems []string
	warnings []string
}

func (v *validator) errorf(setting, format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf("%s:%s: %s", Namespace, setting, fmt.Sprintf(format, args...)))
}

func (v *validator) warnf(setting, format string, args ...any) {
	v.warnings = append(v.warnings, fmt.Sprintf("%s:%s: %s", Namespace, setting, fmt.Sprintf(format, args...)))
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	sort.Strings(v.problems)
	return &InvalidError{Problems: v.problems}
}

// InvalidError lists every invalid setting.
type InvalidError struct {
	Problems []string
}

func (e *InvalidError) Error() string {
	return "invalid stack settings:\n  " + strings.Join(e.Problems, "\n  ")
}

// IsInvalid reports whether err is (or wraps) an InvalidError.
func IsInvalid(err error) bool {
	var ie *InvalidError
	return errors.As(err, &ie)
}
