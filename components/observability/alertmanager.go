package observability

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// The pager/chat webhook's URL lives in Secrets Manager; an ExternalSecret syncs it into the
// Kubernetes Secret PagerSecret (key PagerSecretKey) in the monitoring namespace, and the
// Alertmanager mounts it (alertmanagerSpec.secrets) under /etc/alertmanager/secrets/.
const (
	PagerSecret    = "alertmanager-pager"
	PagerSecretKey = "url"
)

// PagerURLFile is where the Alertmanager reads the pager's URL.
func PagerURLFile() string {
	return path.Join("/etc/alertmanager/secrets", PagerSecret, PagerSecretKey)
}

// Receivers are where alerts go.
type Receivers struct {
	TopicARN string // the data tier's alarm SNS topic: every alert (the Alertmanager's role may publish to it)
	Region   string // the topic's region (SigV4)
}

// Validate names each field that is missing or malformed.
func (r Receivers) Validate() error {
	var errs []error
	if !strings.HasPrefix(r.TopicARN, "arn:aws:sns:") {
		errs = append(errs, fmt.Errorf("topicArn: want an SNS topic ARN, got %q", r.TopicARN))
	}
	if r.Region == "" {
		errs = append(errs, errors.New("region: required"))
	}
	return errors.Join(errs...)
}

// AlertmanagerConfig is the Alertmanager configuration (alertmanager.yaml; JSON is YAML):
// every alert to the SNS topic, critical ones to the pager too; a fast burn silences the
// slow one of the same route, an imminent expiry the early warning.
func AlertmanagerConfig(r Receivers) (map[string]any, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("alertmanager receivers: %w", err)
	}
	m := func(ms ...string) []any {
		out := make([]any, len(ms))
		for i, s := range ms {
			out[i] = s
		}
		return out
	}
	inhibit := func(source, target string, equal ...string) map[string]any {
		return map[string]any{
			"source_matchers": m(fmt.Sprintf("alertname=%q", source)),
			"target_matchers": m(fmt.Sprintf("alertname=%q", target)),
			"equal":           m(equal...),
		}
	}
	return map[string]any{
		"global": map[string]any{"resolve_timeout": "5m"},
		"route": map[string]any{
			"receiver":        "sns",
			"group_by":        m("alertname", "namespace", "route", "group", "asset"),
			"group_wait":      "30s",
			"group_interval":  "5m",
			"repeat_interval": "4h",
			"routes": []any{
				// The chart's default rules: Watchdog always fires (a dead-man's switch for an
				// external check), InfoInhibitor only inhibits.
				map[string]any{"receiver": "null", "matchers": m(`alertname=~"Watchdog|InfoInhibitor"`)},
				map[string]any{"receiver": "pager", "matchers": m(fmt.Sprintf("severity=%q", Critical)), "continue": true, "repeat_interval": "1h"},
				map[string]any{"receiver": "sns", "matchers": m(fmt.Sprintf("severity=~%q", Critical+"|"+Warning))},
			},
		},
		"receivers": []any{
			map[string]any{"name": "null"},
			map[string]any{"name": "sns", "sns_configs": []any{map[string]any{
				"topic_arn":     r.TopicARN,
				"sigv4":         map[string]any{"region": r.Region},
				"subject":       `[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}`,
				"send_resolved": true,
			}}},
			map[string]any{"name": "pager", "webhook_configs": []any{map[string]any{
				"url_file":      PagerURLFile(),
				"send_resolved": true,
			}}},
		},
		"inhibit_rules": []any{
			inhibit("APIAvailabilityBurnFast", "APIAvailabilityBurnSlow", "route"),
			inhibit("APILatencyBurnFast", "APILatencyBurnSlow", "route"),
			inhibit("CertificateExpiryImminent", "CertificateExpiringSoon", "instance"),
		},
	}, nil
}
