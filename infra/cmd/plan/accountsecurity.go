package main

import (
	"fmt"
	"strings"

	"github.com/cantondex/platform/infra/policy"
)

// writeAccountSecurityHighlights summarises the account's security services: the trail with
// its bucket's Object Lock retention, the GuardDuty detector's features, the Security Hub
// standards, the Config recorder with its rule count, and the Access Analyzer.
func writeAccountSecurityHighlights(b *strings.Builder, p *policy.Plan) {
	lock := map[string]string{}
	for _, l := range p.OfType("aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2") {
		lock[l.String("bucket")] = fmt.Sprintf("Object Lock %s %g days", l.String("rule.defaultRetention.mode"), l.Number("rule.defaultRetention.days"))
	}
	bucketLock := map[string]string{}
	for _, bk := range p.OfType("aws:s3/bucketV2:BucketV2") {
		bucketLock[bk.String("bucket")] = lock[bk.ID]
	}
	for _, t := range p.OfType("aws:cloudtrail/trail:Trail") {
		fmt.Fprintf(b, "  cloudtrail %s: multi-region %v, log file validation %v, KMS %v, to s3://%s (%s) and CloudWatch Logs %v\n",
			t.String("name"), t.Bool("isMultiRegionTrail"), t.Bool("enableLogFileValidation"), t.String("kmsKeyId") != "",
			t.String("s3BucketName"), orNone(bucketLock[t.String("s3BucketName")], "no Object Lock"), t.String("cloudWatchLogsGroupArn") != "")
	}
	features := map[string][]string{}
	for _, f := range p.OfType("aws:guardduty/detectorFeature:DetectorFeature") {
		if f.String("status") == "ENABLED" {
			features[f.String("detectorId")] = append(features[f.String("detectorId")], f.String("name"))
		}
	}
	for _, d := range p.OfType("aws:guardduty/detector:Detector") {
		fmt.Fprintf(b, "  guardduty %s: enabled %v, features %s\n", d.Name, d.Bool("enable"), orNone(strings.Join(features[d.ID], ", "), "none"))
	}
	var standards []string
	for _, s := range p.OfType("aws:securityhub/standardsSubscription:StandardsSubscription") {
		arn := s.String("standardsArn")
		std := arn[strings.LastIndex(arn, ":")+1:]
		standards = append(standards, strings.TrimPrefix(strings.TrimPrefix(std, "standards/"), "ruleset/"))
	}
	if hubs := p.OfType("aws:securityhub/account:Account"); len(hubs) > 0 {
		fmt.Fprintf(b, "  security hub: %s\n", orNone(strings.Join(standards, ", "), "no standards"))
	}
	rules := len(p.OfType("aws:cfg/rule:Rule"))
	for _, r := range p.OfType("aws:cfg/recorder:Recorder") {
		fmt.Fprintf(b, "  config recorder %s: all resources %v, global %v, %d managed rules\n", r.String("name"),
			r.Bool("recordingGroup.allSupported"), r.Bool("recordingGroup.includeGlobalResourceTypes"), rules)
	}
	for _, a := range p.OfType("aws:accessanalyzer/analyzer:Analyzer") {
		fmt.Fprintf(b, "  access analyzer %s: %s\n", a.String("analyzerName"), a.String("type"))
	}
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}
