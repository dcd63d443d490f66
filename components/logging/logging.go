// Package logging is the container-log component: Fluent Bit (the upstream chart as a pinned
// Helm release, a DaemonSet) ships every container's log to CloudWatch Logs through its own IRSA
// role, into KMS-encrypted log groups with retention that the component creates itself.
//
// Two log groups: <prefix>/application holds the platform's services (the application
// namespace), whose JSON lines the kubernetes filter merges into the record so that CloudWatch
// Logs Insights queries fields such as request_id and trace_id directly; <prefix>/cluster holds
// every other pod's log (kube-system, the add-ons, monitoring). One group per namespace would
// spread one incident over many groups and grow with every add-on; two groups split what the
// platform writes from what the cluster writes, which is the split on-call and access
// need. Fluent Bit never creates a group (auto_create_group Off): a group it made would have
// neither key nor retention, and its role has no logs:CreateLogGroup.
//
// Nothing is dropped silently. Pods cannot switch their logs off (K8S-Logging.Exclude Off);
// lines that are not JSON are kept as they are (Merge_Log only adds fields); Fluent Bit's own
// log (its namespace) is not shipped, so that an output error cannot feed itself. Under
// back-pressure (CloudWatch throttling or unreachable) the pipeline buffers on the node's disk
// (storage.type filesystem under hostPath /var/fluent-bit/state) and retries without limit;
// each output's buffer is bounded (BufferLimitMiB), and only when it is full are its oldest
// chunks discarded, which Fluent Bit logs and counts (fluentbit_output_dropped_records_total on
// its metrics port 2020), so an alert can see it. The tail positions are kept in the same
// directory, so a restarted pod resumes where it stopped rather than skipping or repeating.
//
// Pod Security: Fluent Bit reads the node's /var/log (hostPath, read-only) as root, and keeps
// its buffer in a hostPath. The baseline and restricted standards forbid hostPath volumes, so
// the logging namespace must enforce privileged (audit and warn can stay restricted, which
// reports exactly these two exceptions). Everything else runs as restricted would ask: no
// privilege escalation, every capability dropped, read-only root filesystem, RuntimeDefault
// seccomp, no host network.
package logging

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/helmrelease"
	"github.com/cantondex/platform/components/identity"
)

// The chart, pinned (its appVersion pins the Fluent Bit image).
const (
	ChartName       = "fluent-bit"
	ChartRepository = "https://fluent.github.io/helm-charts"
	ChartVersion    = "0.58.2"
	ServiceAccount  = "fluent-bit"
)

// stateDir is the node directory holding the tail positions and the filesystem buffer.
const stateDir = "/var/fluent-bit/state"

// retentions are the values CloudWatch Logs accepts for a group's retention.
func retentions() []int {
	return []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
}

// Logging is Fluent Bit, its role and its log groups.
type Logging struct {
	pulumi.ResourceState

	RoleARN pulumi.StringOutput `pulumi:"roleArn"`
	// ApplicationLogGroup holds the application namespace's logs, ClusterLogGroup the rest.
	ApplicationLogGroup pulumi.StringOutput `pulumi:"applicationLogGroup"`
	ClusterLogGroup     pulumi.StringOutput `pulumi:"clusterLogGroup"`
	Release             pulumi.StringOutput `pulumi:"release"`
}

// LoggingArgs configures the log pipeline.
type LoggingArgs struct {
	// Namespace is Fluent Bit's namespace (created by the caller; DependsOn holds it).
	Namespace string
	DependsOn []pulumi.Resource
	// ApplicationNamespace is the namespace whose pods go to the application group.
	ApplicationNamespace string
	// LogGroupPrefix names the groups: <prefix>/application and <prefix>/cluster.
	LogGroupPrefix string
	RetentionDays  int
	// KMSKeyARN encrypts the groups; its policy must let CloudWatch Logs of Region use it.
	KMSKeyARN pulumi.StringInput
	Region    string
	// OIDCProviderARN and OIDCProviderURL (without https://) are the cluster's IRSA issuer.
	OIDCProviderARN pulumi.StringInput
	OIDCProviderURL pulumi.StringInput
	// Kubernetes is the provider of the cluster the release goes into.
	Kubernetes pulumi.ProviderResource
	// BufferLimitMiB bounds each output's filesystem buffer on a node (0: 512).
	BufferLimitMiB int
	Tags           map[string]string
}

var (
	namespaceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	groupPrefix   = regexp.MustCompile(`^/[A-Za-z0-9_.#/-]*[A-Za-z0-9_.#-]$`)
	awsRegion     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
)

func (a LoggingArgs) validate() error {
	var errs []error
	for _, f := range []struct{ field, ns string }{{"namespace", a.Namespace}, {"applicationNamespace", a.ApplicationNamespace}} {
		if !namespaceName.MatchString(f.ns) || len(f.ns) > 63 {
			errs = append(errs, fmt.Errorf("%s: %q is not a Kubernetes namespace name", f.field, f.ns))
		}
	}
	if a.Namespace != "" && a.Namespace == a.ApplicationNamespace {
		errs = append(errs, errors.New("applicationNamespace: must differ from namespace (Fluent Bit does not ship its own logs)"))
	}
	if !groupPrefix.MatchString(a.LogGroupPrefix) || len(a.LogGroupPrefix) > 480 {
		errs = append(errs, fmt.Errorf("logGroupPrefix: %q is not a log group path like /cantondex/prod", a.LogGroupPrefix))
	}
	if !slices.Contains(retentions(), a.RetentionDays) {
		errs = append(errs, fmt.Errorf("retentionDays: %d is not a CloudWatch Logs retention (one of %v)", a.RetentionDays, retentions()))
	}
	if a.KMSKeyARN == nil {
		errs = append(errs, errors.New("kmsKeyArn: required: the log groups are encrypted"))
	}
	if !awsRegion.MatchString(a.Region) {
		errs = append(errs, fmt.Errorf("region: %q is not an AWS region", a.Region))
	}
	if a.OIDCProviderARN == nil || a.OIDCProviderURL == nil {
		errs = append(errs, errors.New("oidcProviderArn, oidcProviderUrl: required for the IRSA role"))
	}
	if a.Kubernetes == nil {
		errs = append(errs, errors.New("kubernetes: a provider for the cluster is required (never the ambient kubeconfig)"))
	}
	if a.BufferLimitMiB < 0 || a.BufferLimitMiB > 10240 {
		errs = append(errs, fmt.Errorf("bufferLimitMiB: %d is outside 0 to 10240", a.BufferLimitMiB))
	}
	return errors.Join(errs...)
}

// bufferLimit is BufferLimitMiB, 512 when unset.
func (a LoggingArgs) bufferLimit() int {
	if a.BufferLimitMiB == 0 {
		return 512
	}
	return a.BufferLimitMiB
}

// Policy lets Fluent Bit write streams into exactly the given log groups (their ARNs).
func Policy(groupARNs ...pulumi.StringInput) identity.Document {
	var resources []pulumi.StringInput
	for _, arn := range groupARNs {
		resources = append(resources, arn, pulumi.Sprintf("%s:*", arn))
	}
	return identity.Document{Statements: []identity.Statement{{
		Sid:       "WriteOwnLogGroups",
		Actions:   []string{"logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"},
		Resources: resources,
	}}}
}

// NewLogging creates the log groups, the IRSA role and the Fluent Bit release.
func NewLogging(ctx *pulumi.Context, name string, args LoggingArgs, opts ...pulumi.ResourceOption) (*Logging, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("logging %s: %w", name, err)
	}
	c := &Logging{}
	if err := ctx.RegisterComponentResource("cantondex:logging:Logging", name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)

	group := func(suffix string) (*cloudwatch.LogGroup, error) {
		return cloudwatch.NewLogGroup(ctx, name+"-"+suffix, &cloudwatch.LogGroupArgs{
			Name:            pulumi.String(args.LogGroupPrefix + "/" + suffix),
			RetentionInDays: pulumi.Int(args.RetentionDays),
			KmsKeyId:        args.KMSKeyARN,
			Tags:            pulumi.ToStringMap(args.Tags),
		}, parent)
	}
	app, err := group("application")
	if err != nil {
		return nil, err
	}
	cluster, err := group("cluster")
	if err != nil {
		return nil, err
	}

	policy := Policy(app.Arn, cluster.Arn)
	role, err := identity.NewServiceAccountRole(ctx, name, identity.ServiceAccountRoleArgs{
		OIDCProviderARN: args.OIDCProviderARN, OIDCProviderURL: args.OIDCProviderURL,
		Namespace: args.Namespace, ServiceAccount: ServiceAccount, Policy: &policy, Tags: args.Tags,
	}, parent)
	if err != nil {
		return nil, err
	}

	// Fluent Bit creates no group, so it starts only once both exist.
	after := append(slices.Clone(args.DependsOn), app, cluster)
	release, err := helmrelease.New(ctx, name, helmrelease.Args{
		Chart:     helmrelease.Chart{Name: ChartName, Repo: ChartRepository, Version: ChartVersion},
		Namespace: args.Namespace,
		Values:    values(args, role.RoleARN),
	}, parent, pulumi.Provider(args.Kubernetes), pulumi.DependsOn(after))
	if err != nil {
		return nil, err
	}

	c.RoleARN, c.Release = role.RoleARN, release.Name.Elem()
	c.ApplicationLogGroup, c.ClusterLogGroup = app.Name, cluster.Name
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"roleArn": c.RoleARN, "release": c.Release,
		"applicationLogGroup": c.ApplicationLogGroup, "clusterLogGroup": c.ClusterLogGroup,
	})
}

// pipeline is one input -> kubernetes filter -> CloudWatch output path.
type pipeline struct {
	alias, tag, path string
	exclude          []string
	group            string
}

// pipelines route the application namespace's containers to the application group and every
// other namespace's, except Fluent Bit's own, to the cluster group. Kubelet names the files
// <pod>_<namespace>_<container>-<id>.log; pod and container names hold no underscore.
func (a LoggingArgs) pipelines() []pipeline {
	files := func(ns string) string { return "/var/log/containers/*_" + ns + "_*.log" }
	return []pipeline{
		{alias: "application", tag: "app", path: files(a.ApplicationNamespace), group: a.LogGroupPrefix + "/application"},
		{alias: "cluster", tag: "kube", path: "/var/log/containers/*.log", exclude: []string{files(a.ApplicationNamespace), files(a.Namespace)}, group: a.LogGroupPrefix + "/cluster"},
	}
}

// config renders the chart's config sections (classic mode).
func (a LoggingArgs) config() map[string]string {
	service := strings.Join([]string{
		"[SERVICE]",
		"    Daemon Off",
		"    Flush 5",
		"    Log_Level info",
		"    HTTP_Server On",
		"    HTTP_Listen 0.0.0.0",
		"    HTTP_Port 2020",
		"    Health_Check On",
		"    storage.path " + stateDir + "/buffer/",
		"    storage.sync normal",
		"    storage.backlog.mem_limit 16M",
		"    storage.max_chunks_up 32",
		"    storage.metrics On",
	}, "\n") + "\n"
	var inputs, filters, outputs []string
	for _, p := range a.pipelines() {
		in := []string{
			"[INPUT]",
			"    Name tail",
			"    Alias " + p.alias,
			"    Tag " + p.tag + ".*",
			"    Path " + p.path,
		}
		if len(p.exclude) > 0 {
			in = append(in, "    Exclude_Path "+strings.Join(p.exclude, ","))
		}
		in = append(in,
			"    multiline.parser cri",
			"    DB "+stateDir+"/"+p.alias+".db",
			"    DB.locking true",
			// Files that existed before this pod started (a new node, a restart without DB)
			// are read from their start, not skipped.
			"    Read_from_Head true",
			// CRI splits long lines at 16 KiB (the cri parser joins them); a joined line above
			// 1 MiB is skipped with a warning in Fluent Bit's log instead of stopping the file.
			"    Buffer_Max_Size 1M",
			"    Skip_Long_Lines On",
			"    Rotate_Wait 30",
			"    storage.type filesystem",
		)
		inputs = append(inputs, strings.Join(in, "\n"))
		filters = append(filters, strings.Join([]string{
			"[FILTER]",
			"    Name kubernetes",
			"    Alias " + p.alias,
			"    Match " + p.tag + ".*",
			"    Kube_Tag_Prefix " + p.tag + ".var.log.containers.",
			"    Merge_Log On",
			"    Keep_Log Off",
			"    K8S-Logging.Parser Off",
			"    K8S-Logging.Exclude Off",
			"    Labels On",
			"    Annotations Off",
			"    Buffer_Size 256k",
		}, "\n"))
		outputs = append(outputs, strings.Join([]string{
			"[OUTPUT]",
			"    Name cloudwatch_logs",
			"    Alias " + p.alias,
			"    Match " + p.tag + ".*",
			"    region " + a.Region,
			"    log_group_name " + p.group,
			"    log_stream_prefix " + p.alias + ".",
			"    log_stream_template $kubernetes['namespace_name'].$kubernetes['pod_name'].$kubernetes['container_name']",
			"    auto_create_group Off",
			"    Retry_Limit no_limits",
			fmt.Sprintf("    storage.total_limit_size %dM", a.bufferLimit()),
		}, "\n"))
	}
	join := func(sections []string) string { return strings.Join(sections, "\n\n") + "\n" }
	return map[string]string{"service": service, "inputs": join(inputs), "filters": join(filters), "outputs": join(outputs)}
}

// values are the chart's values: the pipeline, IRSA, the node mounts, and the tightest pod the
// hostPath mounts allow.
func values(args LoggingArgs, roleARN pulumi.StringOutput) pulumi.Map {
	cfg := args.config()
	return pulumi.Map{
		"kind": pulumi.String("DaemonSet"),
		"serviceAccount": pulumi.Map{
			"create": pulumi.Bool(true), "name": pulumi.String(ServiceAccount),
			"annotations": pulumi.Map{"eks.amazonaws.com/role-arn": roleARN},
		},
		"rbac": pulumi.Map{"create": pulumi.Bool(true)},
		"config": pulumi.Map{
			"service": pulumi.String(cfg["service"]), "inputs": pulumi.String(cfg["inputs"]),
			"filters": pulumi.String(cfg["filters"]), "outputs": pulumi.String(cfg["outputs"]),
			"customParsers": pulumi.String(""),
		},
		// Only what the pipeline reads and writes: the node's logs read-only, the state dir.
		"daemonSetVolumes": pulumi.Array{
			pulumi.Map{"name": pulumi.String("varlog"), "hostPath": pulumi.Map{"path": pulumi.String("/var/log")}},
			pulumi.Map{"name": pulumi.String("state"), "hostPath": pulumi.Map{"path": pulumi.String(stateDir), "type": pulumi.String("DirectoryOrCreate")}},
		},
		"daemonSetVolumeMounts": pulumi.Array{
			pulumi.Map{"name": pulumi.String("varlog"), "mountPath": pulumi.String("/var/log"), "readOnly": pulumi.Bool(true)},
			pulumi.Map{"name": pulumi.String("state"), "mountPath": pulumi.String(stateDir)},
		},
		"podSecurityContext": pulumi.Map{
			"seccompProfile": pulumi.Map{"type": pulumi.String("RuntimeDefault")},
		},
		// Root, because kubelet writes the container logs root-owned and 0640; no capability
		// beyond a file owner's, so it reads them and nothing else.
		"securityContext": pulumi.Map{
			"runAsUser": pulumi.Int(0), "runAsNonRoot": pulumi.Bool(false), "privileged": pulumi.Bool(false),
			"allowPrivilegeEscalation": pulumi.Bool(false),
			"readOnlyRootFilesystem":   pulumi.Bool(true),
			"capabilities":             pulumi.Map{"drop": pulumi.StringArray{pulumi.String("ALL")}},
		},
		"hostNetwork":       pulumi.Bool(false),
		"priorityClassName": pulumi.String("system-node-critical"),
		// Every node's logs, whatever its taints.
		"tolerations": pulumi.Array{pulumi.Map{"operator": pulumi.String("Exists")}},
		"resources": pulumi.Map{
			"requests": pulumi.Map{"cpu": pulumi.String("100m"), "memory": pulumi.String("128Mi")},
			"limits":   pulumi.Map{"memory": pulumi.String("256Mi")},
		},
		"testFramework": pulumi.Map{"enabled": pulumi.Bool(false)},
	}
}
