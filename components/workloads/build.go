package workloads

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/services/catalog"
)

// Label keys (CONTRACTS C2) and the annotation that binds a ServiceAccount to its IAM role.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelComponent = "app.kubernetes.io/component"
	PartOf         = "cantondex"
	RoleAnnotation = "eks.amazonaws.com/role-arn"
	// ConfigHashAnnotation on a pod template changes with its ConfigMap, so a new
	// configuration rolls the pods.
	ConfigHashAnnotation = "cantondex.io/config-sha256"
	// KubeAPIAccessAnnotation on a pod template that mounts its ServiceAccount token says why
	// the pod talks to the Kubernetes API (infra/policy's k8s-sa-token-not-mounted).
	KubeAPIAccessAnnotation = "cantondex.io/kubernetes-api-access"
)

// RDSCAConfigMap holds the RDS CA bundle, mounted where DB_TLS_CA_FILE points.
const RDSCAConfigMap = "rds-ca-bundle"

// Labels are a catalog service's pod labels.
func Labels(s catalog.Service) map[string]string {
	return map[string]string{LabelName: s.Name, LabelPartOf: PartOf, LabelComponent: strings.ToLower(string(s.Kind))}
}

// StatefulSet reports whether s runs as a StatefulSet: a long-running consumer-group member,
// whose pod name is its static group membership (KAFKA_GROUP_INSTANCE_ID).
func StatefulSet(s catalog.Service) bool { return s.Kind == catalog.Deployment && s.GroupMember() }

// WorkloadKind is the Kubernetes kind that runs s.
func WorkloadKind(s catalog.Service) string {
	switch {
	case s.Kind == catalog.Job:
		return "Job"
	case StatefulSet(s):
		return "StatefulSet"
	}
	return "Deployment"
}

// SecretName is the Kubernetes Secret a catalog secret is synced into.
func SecretName(catalogSecret string) string { return catalogSecret }

// NewWorkloads deploys args.Services.
func NewWorkloads(ctx *pulumi.Context, name string, args WorkloadsArgs, opts ...pulumi.ResourceOption) (*Workloads, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("workloads %s: %w", name, err)
	}
	args.Services, args.Namespaces = args.services(), args.namespaces()
	w := &Workloads{}
	if err := ctx.RegisterComponentResource("cantondex:workloads:Workloads", name, w, opts...); err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, name: name, args: args, flows: Flows(args.Services),
		opts: []pulumi.ResourceOption{pulumi.Parent(w), pulumi.Provider(args.Provider), pulumi.DependsOn(args.DependsOn)}}

	policies, err := b.networkPolicies()
	if err != nil {
		return nil, err
	}
	secrets, err := b.externalSecrets()
	if err != nil {
		return nil, err
	}
	shared := slices.Concat(policies, secrets)
	if b.needsCA() {
		ca, err := corev1.NewConfigMap(ctx, name+"-"+RDSCAConfigMap, &corev1.ConfigMapArgs{
			Metadata: b.meta(RDSCAConfigMap, map[string]string{LabelPartOf: PartOf}),
			Data:     pulumi.StringMap{caKey: args.RDSCABundle},
		}, b.opts...)
		if err != nil {
			return nil, err
		}
		shared = append(shared, ca)
	}
	if b.needsScreeningLists() {
		lists, err := b.screeningLists()
		if err != nil {
			return nil, err
		}
		shared = append(shared, lists)
	}

	// Jobs first (migrations, topics), then the services, which wait for every Job.
	objects := pulumi.StringMap{}
	var jobs []pulumi.Resource
	for _, s := range args.Services {
		if s.Kind != catalog.Job {
			continue
		}
		job, err := b.service(s, shared, nil)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, job)
		objects[s.Name] = pulumi.String("Job/" + s.Name)
	}
	var hostname pulumi.StringOutput = pulumi.String("").ToStringOutput()
	for _, s := range args.Services {
		if s.Kind == catalog.Job {
			continue
		}
		if _, err := b.service(s, shared, jobs); err != nil {
			return nil, err
		}
		objects[s.Name] = pulumi.String(WorkloadKind(s) + "/" + s.Name)
		if s.PublicPort != 0 {
			ing, err := b.ingress(s)
			if err != nil {
				return nil, err
			}
			hostname = ing.Status.ApplyT(func(st *networkingv1.IngressStatus) string {
				if st == nil || st.LoadBalancer == nil || len(st.LoadBalancer.Ingress) == 0 || st.LoadBalancer.Ingress[0].Hostname == nil {
					return "" // not yet provisioned (or a preview)
				}
				return *st.LoadBalancer.Ingress[0].Hostname
			}).(pulumi.StringOutput)
		}
	}

	w.Namespace = pulumi.String(Namespace).ToStringOutput()
	w.Objects = objects.ToStringMapOutput()
	w.IngressHostname = hostname
	return w, ctx.RegisterResourceOutputs(w, pulumi.Map{
		"namespace": w.Namespace, "objects": w.Objects, "ingressHostname": w.IngressHostname,
	})
}

// builder carries what every object of one component needs.
type builder struct {
	ctx   *pulumi.Context
	name  string
	args  WorkloadsArgs
	flows []Flow
	opts  []pulumi.ResourceOption
}

func (b *builder) with(extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append(slices.Clone(b.opts), extra...)
}

func (b *builder) meta(name string, labels map[string]string) metav1.ObjectMetaArgs {
	return metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: pulumi.String(Namespace), Labels: pulumi.ToStringMap(labels)}
}

// caKey is the RDS CA bundle's key in its ConfigMap: the file name the catalog's
// DB_TLS_CA_FILE points to.
const caKey = "rds-ca.pem"

func (b *builder) needsCA() bool {
	return slices.ContainsFunc(b.args.Services, func(s catalog.Service) bool { return s.Database != "" })
}

func (b *builder) needsScreeningLists() bool {
	return slices.ContainsFunc(b.args.Services, func(s catalog.Service) bool { return s.ScreeningLists || s.WritesScreeningLists })
}

// screeningLists creates the ConfigMap of the sanctions lists, empty: the screening-sync Job
// fills its binaryData (before the services that mount it start, since they wait for every
// Job) and owns it from then on, so the program never writes it again.
func (b *builder) screeningLists() (pulumi.Resource, error) {
	return corev1.NewConfigMap(b.ctx, b.name+"-"+catalog.ScreeningListsConfigMap, &corev1.ConfigMapArgs{
		Metadata: b.meta(catalog.ScreeningListsConfigMap, map[string]string{LabelPartOf: PartOf}),
	}, b.with(pulumi.IgnoreChanges([]string{"binaryData", "data"}))...)
}

// listWriterRBAC is the Role of the screening lists' writer: get, update and patch of that one
// ConfigMap (by resourceNames), bound to its ServiceAccount.
func (b *builder) listWriterRBAC(s catalog.Service, sa pulumi.Resource) ([]pulumi.Resource, error) {
	labels := Labels(s)
	role, err := rbacv1.NewRole(b.ctx, b.name+"-"+s.Name, &rbacv1.RoleArgs{
		Metadata: b.meta(s.Name, labels),
		Rules: rbacv1.PolicyRuleArray{rbacv1.PolicyRuleArgs{
			ApiGroups:     pulumi.StringArray{pulumi.String("")},
			Resources:     pulumi.StringArray{pulumi.String("configmaps")},
			ResourceNames: pulumi.StringArray{pulumi.String(catalog.ScreeningListsConfigMap)},
			Verbs:         pulumi.ToStringArray([]string{"get", "update", "patch"}),
		}},
	}, b.opts...)
	if err != nil {
		return nil, err
	}
	binding, err := rbacv1.NewRoleBinding(b.ctx, b.name+"-"+s.Name, &rbacv1.RoleBindingArgs{
		Metadata: b.meta(s.Name, labels),
		RoleRef:  rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Role"), Name: pulumi.String(s.Name)},
		Subjects: rbacv1.SubjectArray{rbacv1.SubjectArgs{Kind: pulumi.String("ServiceAccount"), Name: pulumi.String(s.Name), Namespace: pulumi.String(Namespace)}},
	}, b.with(pulumi.DependsOn([]pulumi.Resource{role, sa}))...)
	if err != nil {
		return nil, err
	}
	return []pulumi.Resource{role, binding}, nil
}

// service creates s's ServiceAccount, ConfigMap and workload (with its Service, budget and
// autoscaler for long-running ones) and returns the workload.
func (b *builder) service(s catalog.Service, shared, jobs []pulumi.Resource) (pulumi.Resource, error) {
	ctx, n := b.ctx, b.name+"-"+s.Name
	labels := Labels(s)
	st := b.args.Settings[s.Name]

	saMeta := b.meta(s.Name, labels)
	if role, ok := b.args.Roles[s.Name]; ok {
		saMeta.Annotations = pulumi.StringMap{RoleAnnotation: role}
	}
	sa, err := corev1.NewServiceAccount(ctx, n, &corev1.ServiceAccountArgs{
		Metadata:                     saMeta,
		AutomountServiceAccountToken: pulumi.Bool(false),
	}, b.opts...)
	if err != nil {
		return nil, err
	}

	env, err := b.environment(s, st)
	if err != nil {
		return nil, err
	}
	cm, err := corev1.NewConfigMap(ctx, n+"-env", &corev1.ConfigMapArgs{
		Metadata: b.meta(s.Name+"-env", labels),
		Data:     env.config,
	}, b.opts...)
	if err != nil {
		return nil, err
	}
	hash := env.config.ToStringMapOutput().ApplyT(func(m map[string]string) string {
		h := sha256.New()
		for _, k := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(h, "%s=%s\n", k, m[k])
		}
		return hex.EncodeToString(h.Sum(nil))
	}).(pulumi.StringOutput)

	deps := slices.Concat(shared, jobs, []pulumi.Resource{sa, cm})
	if s.WritesScreeningLists {
		rbac, err := b.listWriterRBAC(s, sa)
		if err != nil {
			return nil, err
		}
		deps = append(deps, rbac...)
	}
	restart := "Always"
	if s.Kind == catalog.Job {
		restart = "Never"
	}
	template := b.podTemplate(s, st, env, hash, restart)
	selector := &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{LabelName: pulumi.String(s.Name), LabelPartOf: pulumi.String(PartOf)}}

	switch WorkloadKind(s) {
	case "Job":
		jobSpec := batchv1.JobSpecArgs{
			BackoffLimit:          pulumi.Int(4),
			ActiveDeadlineSeconds: pulumi.Int(900),
			Template:              template,
		}
		// Pulumi waits for the Job to complete; a new image replaces it (and runs it again).
		job, err := batchv1.NewJob(ctx, n, &batchv1.JobArgs{Metadata: b.meta(s.Name, labels), Spec: jobSpec},
			b.with(pulumi.DependsOn(deps), pulumi.DeleteBeforeReplace(true))...)
		if err != nil || s.Schedule == "" {
			return job, err
		}
		// Then on its schedule: one run at a time, a missed run started late within an hour.
		if _, err := batchv1.NewCronJob(ctx, n, &batchv1.CronJobArgs{
			Metadata: b.meta(s.Name, labels),
			Spec: batchv1.CronJobSpecArgs{
				Schedule:                   pulumi.String(s.Schedule),
				TimeZone:                   pulumi.String("Etc/UTC"),
				ConcurrencyPolicy:          pulumi.String("Forbid"),
				StartingDeadlineSeconds:    pulumi.Int(3600),
				SuccessfulJobsHistoryLimit: pulumi.Int(3),
				FailedJobsHistoryLimit:     pulumi.Int(3),
				JobTemplate:                batchv1.JobTemplateSpecArgs{Metadata: metav1.ObjectMetaArgs{Labels: pulumi.ToStringMap(labels)}, Spec: jobSpec},
			},
		}, b.with(pulumi.DependsOn(append(deps, job)))...); err != nil {
			return nil, err
		}
		return job, nil
	}

	svcSpec := corev1.ServiceSpecArgs{
		Type:     pulumi.String("ClusterIP"),
		Selector: selector.MatchLabels,
		Ports:    servicePorts(s),
	}
	if StatefulSet(s) {
		// Headless: the StatefulSet's governing Service, one DNS name per member.
		svcSpec.ClusterIP = pulumi.String("None")
		svcSpec.PublishNotReadyAddresses = pulumi.Bool(true)
	}
	if _, err := corev1.NewService(ctx, n, &corev1.ServiceArgs{Metadata: b.meta(s.Name, labels), Spec: svcSpec}, b.opts...); err != nil {
		return nil, err
	}

	// The HPA owns the replica count once the workload exists; Pulumi sets it at creation.
	var workload pulumi.Resource
	own := b.with(pulumi.DependsOn(deps), pulumi.IgnoreChanges([]string{"spec.replicas"}))
	if StatefulSet(s) {
		workload, err = appsv1.NewStatefulSet(ctx, n, &appsv1.StatefulSetArgs{
			Metadata: b.meta(s.Name, labels),
			Spec: appsv1.StatefulSetSpecArgs{
				ServiceName:         pulumi.String(s.Name),
				Replicas:            pulumi.Int(st.Replicas),
				Selector:            selector,
				PodManagementPolicy: pulumi.String("Parallel"),
				// One member at a time: the budget keeps replicas-1 available.
				UpdateStrategy: appsv1.StatefulSetUpdateStrategyArgs{
					Type:          pulumi.String("RollingUpdate"),
					RollingUpdate: appsv1.RollingUpdateStatefulSetStrategyArgs{Partition: pulumi.Int(0)},
				},
				MinReadySeconds:      pulumi.Int(10),
				RevisionHistoryLimit: pulumi.Int(5),
				Template:             template,
			},
		}, own...)
	} else {
		workload, err = appsv1.NewDeployment(ctx, n, &appsv1.DeploymentArgs{
			Metadata: b.meta(s.Name, labels),
			Spec: appsv1.DeploymentSpecArgs{
				Replicas: pulumi.Int(st.Replicas),
				Selector: selector,
				// A new pod is ready before an old one goes: never below the budget.
				Strategy: appsv1.DeploymentStrategyArgs{
					Type:          pulumi.String("RollingUpdate"),
					RollingUpdate: appsv1.RollingUpdateDeploymentArgs{MaxUnavailable: pulumi.Int(0), MaxSurge: pulumi.Int(1)},
				},
				MinReadySeconds:      pulumi.Int(10),
				RevisionHistoryLimit: pulumi.Int(5),
				Template:             template,
			},
		}, own...)
	}
	if err != nil {
		return nil, err
	}
	after := b.with(pulumi.DependsOn([]pulumi.Resource{workload}))
	if minAvailable, maxUnavailable, ok := st.Budget(); ok {
		spec := policyv1.PodDisruptionBudgetSpecArgs{Selector: selector, UnhealthyPodEvictionPolicy: pulumi.String("AlwaysAllow")}
		if minAvailable > 0 {
			spec.MinAvailable = pulumi.Int(minAvailable)
		} else {
			spec.MaxUnavailable = pulumi.Int(maxUnavailable)
		}
		if _, err := policyv1.NewPodDisruptionBudget(ctx, n, &policyv1.PodDisruptionBudgetArgs{Metadata: b.meta(s.Name, labels), Spec: spec}, after...); err != nil {
			return nil, err
		}
	}
	utilization := func(resource string, pct int) autoscalingv2.MetricSpecArgs {
		return autoscalingv2.MetricSpecArgs{
			Type: pulumi.String("Resource"),
			Resource: autoscalingv2.ResourceMetricSourceArgs{
				Name:   pulumi.String(resource),
				Target: autoscalingv2.MetricTargetArgs{Type: pulumi.String("Utilization"), AverageUtilization: pulumi.Int(pct)},
			},
		}
	}
	if _, err := autoscalingv2.NewHorizontalPodAutoscaler(ctx, n, &autoscalingv2.HorizontalPodAutoscalerArgs{
		Metadata: b.meta(s.Name, labels),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpecArgs{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReferenceArgs{
				ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String(WorkloadKind(s)), Name: pulumi.String(s.Name),
			},
			MinReplicas: pulumi.Int(st.MinReplicas),
			MaxReplicas: pulumi.Int(st.MaxReplicas),
			Metrics: autoscalingv2.MetricSpecArray{
				utilization("cpu", st.CPUTargetPercent),
				utilization("memory", st.MemoryTargetPercent),
			},
		},
	}, after...); err != nil {
		return nil, err
	}
	return workload, nil
}

func servicePorts(s catalog.Service) corev1.ServicePortArray {
	var ports corev1.ServicePortArray
	if s.PublicPort != 0 {
		ports = append(ports, corev1.ServicePortArgs{Name: pulumi.String("http"), Port: pulumi.Int(s.PublicPort), TargetPort: pulumi.String("http"), Protocol: pulumi.String("TCP")})
	}
	if s.OpsPort != 0 {
		ports = append(ports, corev1.ServicePortArgs{Name: pulumi.String("ops"), Port: pulumi.Int(s.OpsPort), TargetPort: pulumi.String("ops"), Protocol: pulumi.String("TCP")})
	}
	return ports
}

// secret is one Kubernetes Secret the External Secrets Operator keeps in sync with a Secrets
// Manager secret: one key per variable it fills.
type secret struct {
	name   string             // the Kubernetes Secret (and ExternalSecret)
	remote pulumi.StringInput // the Secrets Manager secret's name or ARN
	envs   []string           // the variables, in catalog order
}

// secretSource resolves a catalog variable that comes from a secret: "secret <catalog
// secret>" (read under its catalog name unless SecretKeys maps it) or "secret output
// database.<db>.secretArn" (the database's master credentials, for the migrations Job).
func (b *builder) secretSource(s catalog.Service, v catalog.Var) (secret, error) {
	ref := strings.TrimPrefix(v.From, "secret ")
	if db, ok := strings.CutPrefix(ref, "output database."); ok {
		db, ok = strings.CutSuffix(db, ".secretArn")
		arn, known := b.args.Endpoints.DatabaseSecrets[db]
		if !ok || !known {
			return secret{}, fmt.Errorf("%s: variable %s comes from %q, which the workloads cannot fill", s.Name, v.Name, v.From)
		}
		return secret{name: "database-" + db + "-admin", remote: arn}, nil
	}
	var remote pulumi.StringInput = pulumi.String(ref)
	if k, ok := b.args.SecretKeys[ref]; ok {
		remote = k
	}
	return secret{name: SecretName(ref), remote: remote}, nil
}

// externalSecrets creates one ExternalSecret per secret the services read: the External
// Secrets Operator copies it from Secrets Manager into a Kubernetes Secret of the same name,
// one key per variable. A secret that fills one variable is the whole secret string (the
// Redis auth token, the RDS master credentials' JSON); one that fills several is JSON with a
// property per variable (the auth keys).
func (b *builder) externalSecrets() ([]pulumi.Resource, error) {
	secrets := map[string]*secret{}
	for _, s := range b.args.Services {
		for _, v := range s.ManagedEnv() {
			if !strings.HasPrefix(v.From, "secret ") {
				continue
			}
			src, err := b.secretSource(s, v)
			if err != nil {
				return nil, err
			}
			if secrets[src.name] == nil {
				secrets[src.name] = &src
			}
			if !slices.Contains(secrets[src.name].envs, v.Name) {
				secrets[src.name].envs = append(secrets[src.name].envs, v.Name)
			}
		}
	}
	var out []pulumi.Resource
	for _, name := range slices.Sorted(maps.Keys(secrets)) {
		sec := secrets[name]
		var data pulumi.MapArray
		for _, env := range sec.envs {
			ref := pulumi.Map{"key": sec.remote}
			if len(sec.envs) > 1 {
				ref["property"] = pulumi.String(env)
			}
			data = append(data, pulumi.Map{"secretKey": pulumi.String(env), "remoteRef": ref})
		}
		es, err := apiextensions.NewCustomResource(b.ctx, b.name+"-"+name, &apiextensions.CustomResourceArgs{
			ApiVersion: pulumi.String("external-secrets.io/v1"),
			Kind:       pulumi.String("ExternalSecret"),
			Metadata:   b.meta(name, map[string]string{LabelPartOf: PartOf}),
			OtherFields: kubernetes.UntypedArgs{"spec": pulumi.Map{
				"refreshInterval": pulumi.String("1h"),
				"secretStoreRef":  pulumi.Map{"kind": pulumi.String("ClusterSecretStore"), "name": pulumi.String(b.args.SecretStore)},
				"target": pulumi.Map{
					"name": pulumi.String(name), "creationPolicy": pulumi.String("Owner"), "deletionPolicy": pulumi.String("Retain"),
				},
				"data": data,
			}},
		}, b.opts...)
		if err != nil {
			return nil, err
		}
		out = append(out, es)
	}
	return out, nil
}

// ALB settings of the public Ingresses.
const (
	SSLPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"
	// IngressGroup is the IngressGroup every public service joins: one ALB for all.
	IngressGroup = "cantondex"
)

func (b *builder) ingress(s catalog.Service) (*networkingv1.Ingress, error) {
	a := b.args.Ingress
	ann := pulumi.StringMap{
		"alb.ingress.kubernetes.io/scheme":           pulumi.String("internet-facing"),
		"alb.ingress.kubernetes.io/target-type":      pulumi.String("ip"),
		"alb.ingress.kubernetes.io/listen-ports":     pulumi.String(`[{"HTTP":80},{"HTTPS":443}]`),
		"alb.ingress.kubernetes.io/ssl-redirect":     pulumi.String("443"),
		"alb.ingress.kubernetes.io/certificate-arn":  a.CertificateARN,
		"alb.ingress.kubernetes.io/ssl-policy":       pulumi.String(SSLPolicy),
		"alb.ingress.kubernetes.io/wafv2-acl-arn":    a.WebACLARN,
		"alb.ingress.kubernetes.io/backend-protocol": pulumi.String("HTTP"),
		"alb.ingress.kubernetes.io/healthcheck-port": pulumi.String(fmt.Sprint(s.OpsPort)),
		"alb.ingress.kubernetes.io/healthcheck-path": pulumi.String(s.Probes.Readiness),
		"alb.ingress.kubernetes.io/success-codes":    pulumi.String("200"),
		"alb.ingress.kubernetes.io/load-balancer-attributes": pulumi.String(
			"routing.http.drop_invalid_header_fields.enabled=true,routing.http.desync_mitigation_mode=strictest,idle_timeout.timeout_seconds=60"),
		"alb.ingress.kubernetes.io/target-group-attributes": pulumi.String(fmt.Sprintf("deregistration_delay.timeout_seconds=%d", DrainSeconds-5)),
	}
	// Every public service is one Ingress of one ALB (an IngressGroup): the more specific
	// path first (the notification service's /api/v1/stream before the gateway's /).
	path, order := s.PublicPath, "100"
	if path == "" || path == "/" {
		path, order = "/", "1000"
	}
	ann["alb.ingress.kubernetes.io/group.name"] = pulumi.String(IngressGroup)
	ann["alb.ingress.kubernetes.io/group.order"] = pulumi.String(order)
	if a.SecurityGroupID != nil {
		ann["alb.ingress.kubernetes.io/security-groups"] = a.SecurityGroupID
		ann["alb.ingress.kubernetes.io/manage-backend-security-group-rules"] = pulumi.String("true")
	}
	meta := b.meta(s.Name, Labels(s))
	meta.Annotations = ann
	return networkingv1.NewIngress(b.ctx, b.name+"-"+s.Name, &networkingv1.IngressArgs{
		Metadata: meta,
		Spec: networkingv1.IngressSpecArgs{
			IngressClassName: pulumi.String("alb"),
			Rules: networkingv1.IngressRuleArray{networkingv1.IngressRuleArgs{
				Http: networkingv1.HTTPIngressRuleValueArgs{Paths: networkingv1.HTTPIngressPathArray{networkingv1.HTTPIngressPathArgs{
					Path: pulumi.String(path), PathType: pulumi.String("Prefix"),
					Backend: networkingv1.IngressBackendArgs{Service: networkingv1.IngressServiceBackendArgs{
						Name: pulumi.String(s.Name), Port: networkingv1.ServiceBackendPortArgs{Name: pulumi.String("http")},
					}},
				}}},
			}},
		},
	}, b.opts...)
}
