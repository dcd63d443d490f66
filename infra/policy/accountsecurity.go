package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cantondex/platform/components/mocks"
)

// Resource types the account security rules inspect.
const (
	tokTrail            = "aws:cloudtrail/trail:Trail"
	tokBucket           = "aws:s3/bucketV2:BucketV2"
	tokPublicAccess     = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
	tokVersioning       = "aws:s3/bucketVersioningV2:BucketVersioningV2"
	tokBucketEncryption = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
	tokDetector         = "aws:guardduty/detector:Detector"
	tokDetectorFeature  = "aws:guardduty/detectorFeature:DetectorFeature"
	tokConfigRecorder   = "aws:cfg/recorder:Recorder"
	tokRecorderStatus   = "aws:cfg/recorderStatus:RecorderStatus"
)

// accountSecurityRules are the CloudTrail, S3, GuardDuty and AWS Config rules.
func accountSecurityRules() []Rule {
	return []Rule{
		{ID: "cloudtrail-multi-region", Mirrors: "CKV_AWS_67", Summary: "trails cover every region and global service events",
			Check: each(tokTrail, func(_ *Plan, r mocks.Resource) string {
				if !r.Bool("isMultiRegionTrail") || !r.Bool("includeGlobalServiceEvents") {
					return "isMultiRegionTrail and includeGlobalServiceEvents must be true"
				}
				return ""
			})},
		{ID: "cloudtrail-log-validation", Mirrors: "CKV_AWS_36", Summary: "trails write log file digests",
			Check: each(tokTrail, func(_ *Plan, r mocks.Resource) string {
				if !r.Bool("enableLogFileValidation") {
					return "enableLogFileValidation must be true"
				}
				return ""
			})},
		{ID: "cloudtrail-kms", Mirrors: "CKV_AWS_35", Summary: "trails encrypt log files with a customer KMS key",
			Check: each(tokTrail, func(_ *Plan, r mocks.Resource) string {
				if r.String("kmsKeyId") == "" {
					return "no kmsKeyId: log files would only be SSE-S3 encrypted"
				}
				return ""
			})},
		{ID: "cloudtrail-cloudwatch", Mirrors: "CKV_AWS_252", Summary: "trails deliver to CloudWatch Logs",
			Check: each(tokTrail, func(_ *Plan, r mocks.Resource) string {
				if r.String("cloudWatchLogsGroupArn") == "" || r.String("cloudWatchLogsRoleArn") == "" {
					return "cloudWatchLogsGroupArn and cloudWatchLogsRoleArn must be set"
				}
				return ""
			})},
		{ID: "s3-public-access-block", Mirrors: "CKV2_AWS_6", Summary: "every bucket blocks public ACLs and policies", Check: checkPublicAccessBlock},
		{ID: "s3-versioning", Mirrors: "CKV_AWS_21", Summary: "every bucket is versioned", Check: checkVersioning},
		{ID: "s3-kms-encryption", Mirrors: "CKV_AWS_145", Summary: "every bucket is encrypted with a KMS key by default", Check: checkBucketKMS},
		{ID: "guardduty-enabled", Mirrors: "CKV2_AWS_3", Summary: "GuardDuty detectors are enabled", Check: each(tokDetector, func(_ *Plan, r mocks.Resource) string {
			if !r.Bool("enable") {
				return "enable must be true"
			}
			return ""
		})},
		{ID: "guardduty-eks-protection", Mirrors: "SecurityHub GuardDuty.5/GuardDuty.7", Summary: "GuardDuty watches EKS audit logs and runtime (agent managed as an EKS add-on)", Check: checkGuardDutyEKS},
		{ID: "config-recorder-all-resources", Mirrors: "CKV2_AWS_45", Summary: "AWS Config records every resource type, global ones included, and is turned on", Check: checkConfigRecorder},
	}
}

// bucketsWithout reports every bucket no resource of typ configures (its "bucket" input naming
// the bucket's id) so that ok holds.
func bucketsWithout(p *Plan, typ, missing string, ok func(r mocks.Resource) bool) []Finding {
	good := map[string]bool{}
	for _, r := range p.OfType(typ) {
		if ok(r) {
			good[r.String("bucket")] = true
		}
	}
	var out []Finding
	for _, b := range p.OfType(tokBucket) {
		if !good[b.ID] {
			out = append(out, Finding{b.URN, missing})
		}
	}
	return out
}

func checkPublicAccessBlock(p *Plan) []Finding {
	return bucketsWithout(p, tokPublicAccess, "no public access block with blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets all true",
		func(r mocks.Resource) bool {
			return r.Bool("blockPublicAcls") && r.Bool("blockPublicPolicy") && r.Bool("ignorePublicAcls") && r.Bool("restrictPublicBuckets")
		})
}

func checkVersioning(p *Plan) []Finding {
	return bucketsWithout(p, tokVersioning, "no aws:s3/bucketVersioningV2 with status Enabled",
		func(r mocks.Resource) bool { return r.String("versioningConfiguration.status") == "Enabled" })
}

func checkBucketKMS(p *Plan) []Finding {
	return bucketsWithout(p, tokBucketEncryption, "no default encryption with aws:kms and a key",
		func(r mocks.Resource) bool {
			rules, _ := r.Input("rules")
			list, _ := rules.([]any)
			for _, rule := range list {
				def, _ := rule.(map[string]any)["applyServerSideEncryptionByDefault"].(map[string]any)
				if alg, _ := def["sseAlgorithm"].(string); strings.HasPrefix(alg, "aws:kms") && def["kmsMasterKeyId"] != nil && def["kmsMasterKeyId"] != "" {
					return true
				}
			}
			return false
		})
}

func checkGuardDutyEKS(p *Plan) []Finding {
	enabled := map[string][]string{} // detector id -> features enabled, with EKS add-on management marked
	for _, f := range p.OfType(tokDetectorFeature) {
		if f.String("status") != "ENABLED" {
			continue
		}
		name := f.String("name")
		if name == "RUNTIME_MONITORING" && !addonManaged(f) {
			name += " without EKS_ADDON_MANAGEMENT"
		}
		enabled[f.String("detectorId")] = append(enabled[f.String("detectorId")], name)
	}
	var out []Finding
	for _, d := range p.OfType(tokDetector) {
		var missing []string
		for _, want := range []string{"EKS_AUDIT_LOGS", "RUNTIME_MONITORING"} {
			if !slices.Contains(enabled[d.ID], want) {
				missing = append(missing, want)
			}
		}
		if len(missing) > 0 {
			out = append(out, Finding{d.URN, fmt.Sprintf("features not enabled: %s (runtime monitoring with EKS_ADDON_MANAGEMENT)", strings.Join(missing, ", "))})
		}
	}
	return out
}

func addonManaged(f mocks.Resource) bool {
	extra, _ := f.Input("additionalConfigurations")
	list, _ := extra.([]any)
	for _, e := range list {
		c, _ := e.(map[string]any)
		if c["name"] == "EKS_ADDON_MANAGEMENT" && c["status"] == "ENABLED" {
			return true
		}
	}
	return false
}

func checkConfigRecorder(p *Plan) []Finding {
	on := map[string]bool{}
	for _, s := range p.OfType(tokRecorderStatus) {
		if s.Bool("isEnabled") {
			on[s.String("name")] = true
		}
	}
	var out []Finding
	for _, r := range p.OfType(tokConfigRecorder) {
		switch {
		case !r.Bool("recordingGroup.allSupported") || !r.Bool("recordingGroup.includeGlobalResourceTypes"):
			out = append(out, Finding{r.URN, "recordingGroup must have allSupported and includeGlobalResourceTypes true"})
		case !on[r.String("name")]:
			out = append(out, Finding{r.URN, "no aws:cfg/recorderStatus turns this recorder on"})
		}
	}
	return out
}
