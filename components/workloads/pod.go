package workloads

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/services/catalog"
)

// Environment variables the workloads add to the catalog's ManagedEnv.
const (
	EnvLogLevel       = "LOG_LEVEL"
	EnvLogFormat      = "LOG_FORMAT"
	EnvTrustedProxies = "TRUSTED_PROXIES" // services/gateway: forwarded addresses trusted from the VPC only
)

// env is a container's environment: the ConfigMap's values (no secret among them) and the
// variables taken from secrets and from the pod.
type env struct {
	config pulumi.StringMap
	vars   corev1.EnvVarArray
	// caMount is where the RDS CA bundle is mounted ("" for none).
	caMount string
	// screeningMount is where the screening lists are mounted ("" for none).
	screeningMount string
}

// environment fills s's catalog environment (ManagedEnv) from the data tier's endpoints. A
// variable of a source this code does not know is an error, so a catalog change cannot be
// dropped silently.
func (b *builder) environment(s catalog.Service, st Settings) (env, error) {
	e := env{config: pulumi.StringMap{
		EnvLogLevel:  pulumi.String(st.LogLevel),
		EnvLogFormat: pulumi.String("json"),
	}}
	ep := b.args.Endpoints
	for _, v := range s.ManagedEnv() {
		switch {
		case v.From == "":
			e.config[v.Name] = pulumi.String(v.Value)
		case strings.HasPrefix(v.From, "output database.") && strings.HasSuffix(v.From, ".proxyEndpoint"):
			tmpl := v.Value
			e.config[v.Name] = ep.DatabaseProxies[s.Database].ToStringOutput().ApplyT(func(host string) string {
				return strings.Replace(tmpl, "<proxy endpoint>", host, 1)
			}).(pulumi.StringOutput)
		case v.From == "output database."+s.Database+".address":
			tmpl := v.Value
			e.config[v.Name] = ep.DatabaseAddresses[s.Database].ToStringOutput().ApplyT(func(host string) string {
				return strings.Replace(tmpl, "<instance address>", host, 1)
			}).(pulumi.StringOutput)
		case v.From == "output database."+s.Database+".userSecretArns":
			e.config[v.Name] = ep.DatabaseUserSecrets[s.Database].ToStringMapOutput().ApplyT(func(m map[string]string) (string, error) {
				b, err := json.Marshal(m)
				return string(b), err
			}).(pulumi.StringOutput)
		case v.From == "output kafka.topicsJson":
			e.config[v.Name] = pulumi.String(ep.TopicsJSON)
		case v.From == "output kafka.bootstrapBrokers":
			e.config[v.Name] = ep.KafkaBrokers
		case v.From == "output audit.signingKeyArn":
			e.config[v.Name] = ep.AuditSigningKeyARN.ToStringOutput()
		case v.From == "output cache.configurationEndpoint":
			e.config[v.Name] = pulumi.Sprintf("rediss://%s:%d", ep.RedisHost, ep.RedisPort)
		case v.From == "the RDS CA bundle, mounted":
			e.config[v.Name] = pulumi.String(v.Value)
			e.caMount = v.Value
		case v.From == "the screening lists, mounted":
			e.config[v.Name] = pulumi.String(v.Value)
			if dir := path.Dir(v.Value); e.screeningMount != "" && e.screeningMount != dir {
				return env{}, fmt.Errorf("%s: the screening lists are mounted at %s, but %s names %s", s.Name, e.screeningMount, v.Name, v.Value)
			} else {
				e.screeningMount = dir
			}
		case v.From == "pod (IRSA)":
			e.config[v.Name] = pulumi.String(ep.Region)
		case v.From == "pod" && v.Name == "KAFKA_GROUP_INSTANCE_ID":
			// Static membership: the StatefulSet's stable pod name.
			e.vars = append(e.vars, corev1.EnvVarArgs{Name: pulumi.String(v.Name), ValueFrom: corev1.EnvVarSourceArgs{
				FieldRef: corev1.ObjectFieldSelectorArgs{FieldPath: pulumi.String("metadata.name")},
			}})
		case strings.HasPrefix(v.From, "secret "):
			src, err := b.secretSource(s, v)
			if err != nil {
				return env{}, err
			}
			e.vars = append(e.vars, corev1.EnvVarArgs{Name: pulumi.String(v.Name), ValueFrom: corev1.EnvVarSourceArgs{
				SecretKeyRef: corev1.SecretKeySelectorArgs{Name: pulumi.String(src.name), Key: pulumi.String(v.Name)},
			}})
		default:
			return env{}, fmt.Errorf("%s: variable %s comes from %q, which the workloads cannot fill", s.Name, v.Name, v.From)
		}
	}
	if s.PublicPort != 0 {
		e.config[EnvTrustedProxies] = pulumi.String(b.args.Subnets.VPC)
	}
	return e, nil
}

// podTemplate is s's pod: restricted security context at pod and container level, a
// read-only root filesystem with /tmp in memory, probes on the operations port, spread across
// zones and away from its siblings on one node, scraped by Prometheus.
func (b *builder) podTemplate(s catalog.Service, st Settings, e env, configHash pulumi.StringOutput, restart string) corev1.PodTemplateSpecArgs {
	labels := Labels(s)
	match := &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{LabelName: pulumi.String(s.Name), LabelPartOf: pulumi.String(PartOf)}}
	seccomp := corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")}

	mounts := corev1.VolumeMountArray{corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")}}
	volumes := corev1.VolumeArray{corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: corev1.EmptyDirVolumeSourceArgs{
		Medium: pulumi.String("Memory"), SizeLimit: pulumi.String("64Mi"),
	}}}
	if e.caMount != "" {
		mounts = append(mounts, corev1.VolumeMountArgs{Name: pulumi.String("rds-ca"), MountPath: pulumi.String(path.Dir(e.caMount)), ReadOnly: pulumi.Bool(true)})
		volumes = append(volumes, corev1.VolumeArgs{Name: pulumi.String("rds-ca"), ConfigMap: corev1.ConfigMapVolumeSourceArgs{
			Name:        pulumi.String(RDSCAConfigMap),
			Items:       corev1.KeyToPathArray{corev1.KeyToPathArgs{Key: pulumi.String(caKey), Path: pulumi.String(path.Base(e.caMount))}},
			DefaultMode: pulumi.Int(0o444),
		}})
	}
	if e.screeningMount != "" {
		// Every key of the ConfigMap: kubelet swaps the directory's files atomically on an
		// update, which the services' digest polling picks up.
		mounts = append(mounts, corev1.VolumeMountArgs{Name: pulumi.String("screening-lists"), MountPath: pulumi.String(e.screeningMount), ReadOnly: pulumi.Bool(true)})
		volumes = append(volumes, corev1.VolumeArgs{Name: pulumi.String("screening-lists"), ConfigMap: corev1.ConfigMapVolumeSourceArgs{
			Name: pulumi.String(catalog.ScreeningListsConfigMap), DefaultMode: pulumi.Int(0o444),
		}})
	}

	var ports corev1.ContainerPortArray
	if s.PublicPort != 0 {
		ports = append(ports, corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(s.PublicPort), Protocol: pulumi.String("TCP")})
	}
	if s.OpsPort != 0 {
		ports = append(ports, corev1.ContainerPortArgs{Name: pulumi.String("ops"), ContainerPort: pulumi.Int(s.OpsPort), Protocol: pulumi.String("TCP")})
	}
	r := st.Resources
	container := corev1.ContainerArgs{
		Name:            pulumi.String(s.Name),
		Image:           byDigest(s.Name, b.args.Images[s.Name]),
		ImagePullPolicy: pulumi.String("IfNotPresent"),
		Ports:           ports,
		EnvFrom:         corev1.EnvFromSourceArray{corev1.EnvFromSourceArgs{ConfigMapRef: corev1.ConfigMapEnvSourceArgs{Name: pulumi.String(s.Name + "-env")}}},
		Env:             e.vars,
		Resources: corev1.ResourceRequirementsArgs{
			Requests: pulumi.StringMap{"cpu": pulumi.String(r.CPURequest), "memory": pulumi.String(r.MemoryRequest)},
			Limits:   pulumi.StringMap{"cpu": pulumi.String(r.CPULimit), "memory": pulumi.String(r.MemoryLimit)},
		},
		SecurityContext: corev1.SecurityContextArgs{
			RunAsNonRoot:             pulumi.Bool(true),
			RunAsUser:                pulumi.Int(UID),
			RunAsGroup:               pulumi.Int(GID),
			ReadOnlyRootFilesystem:   pulumi.Bool(true),
			AllowPrivilegeEscalation: pulumi.Bool(false),
			Privileged:               pulumi.Bool(false),
			Capabilities:             corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
			SeccompProfile:           seccomp,
		},
		VolumeMounts:             mounts,
		TerminationMessagePolicy: pulumi.String("FallbackToLogsOnError"),
	}
	grace := ShutdownSeconds + StopMarginSeconds
	if s.OpsPort != 0 {
		probe := func(p string, period, failures int) corev1.ProbeArgs {
			return corev1.ProbeArgs{
				HttpGet:          corev1.HTTPGetActionArgs{Path: pulumi.String(p), Port: pulumi.String("ops")},
				PeriodSeconds:    pulumi.Int(period),
				TimeoutSeconds:   pulumi.Int(2),
				FailureThreshold: pulumi.Int(failures),
			}
		}
		// The binaries migrate the database before they listen: up to 5 minutes to start.
		container.StartupProbe = probe(s.Probes.Liveness, 5, 60)
		container.LivenessProbe = probe(s.Probes.Liveness, 10, 3)
		container.ReadinessProbe = probe(s.Probes.Readiness, 5, 2)
	}
	if s.PublicPort != 0 {
		// Keep serving while the ALB deregisters the pod, then shut down.
		container.Lifecycle = corev1.LifecycleArgs{PreStop: corev1.LifecycleHandlerArgs{Sleep: corev1.SleepActionArgs{Seconds: pulumi.Int(DrainSeconds)}}}
		grace += DrainSeconds
	}

	annotations := pulumi.StringMap{ConfigHashAnnotation: configHash}
	if s.OpsPort != 0 {
		annotations["prometheus.io/scrape"] = pulumi.String("true")
		annotations["prometheus.io/port"] = pulumi.String(fmt.Sprint(s.OpsPort))
		annotations["prometheus.io/path"] = pulumi.String(s.Probes.Metrics)
	}
	// Only the screening lists' writer talks to the Kubernetes API (its Role: one ConfigMap).
	if s.WritesScreeningLists {
		annotations[KubeAPIAccessAnnotation] = pulumi.String("patches the ConfigMap " + catalog.ScreeningListsConfigMap + " (Role " + s.Name + ")")
	}
	spec := corev1.PodSpecArgs{
		ServiceAccountName:           pulumi.String(s.Name),
		AutomountServiceAccountToken: pulumi.Bool(s.WritesScreeningLists),
		EnableServiceLinks:           pulumi.Bool(false),
		RestartPolicy:                pulumi.String(restart),
		SecurityContext: corev1.PodSecurityContextArgs{
			RunAsNonRoot:   pulumi.Bool(true),
			RunAsUser:      pulumi.Int(UID),
			RunAsGroup:     pulumi.Int(GID),
			FsGroup:        pulumi.Int(GID),
			SeccompProfile: seccomp,
		},
		TerminationGracePeriodSeconds: pulumi.Int(grace),
		Containers:                    corev1.ContainerArray{container},
		Volumes:                       volumes,
	}
	if s.Kind != catalog.Job {
		spec.TopologySpreadConstraints = corev1.TopologySpreadConstraintArray{
			corev1.TopologySpreadConstraintArgs{
				MaxSkew: pulumi.Int(1), TopologyKey: pulumi.String("topology.kubernetes.io/zone"),
				WhenUnsatisfiable: pulumi.String("DoNotSchedule"), LabelSelector: match,
			},
			corev1.TopologySpreadConstraintArgs{
				MaxSkew: pulumi.Int(1), TopologyKey: pulumi.String("kubernetes.io/hostname"),
				WhenUnsatisfiable: pulumi.String("ScheduleAnyway"), LabelSelector: match,
			},
		}
		spec.Affinity = corev1.AffinityArgs{PodAntiAffinity: corev1.PodAntiAffinityArgs{
			PreferredDuringSchedulingIgnoredDuringExecution: corev1.WeightedPodAffinityTermArray{corev1.WeightedPodAffinityTermArgs{
				Weight: pulumi.Int(100),
				PodAffinityTerm: corev1.PodAffinityTermArgs{
					TopologyKey: pulumi.String("kubernetes.io/hostname"), LabelSelector: match,
				},
			}},
		}}
	}
	return corev1.PodTemplateSpecArgs{
		Metadata: metav1.ObjectMetaArgs{Labels: pulumi.ToStringMap(labels), Annotations: annotations},
		Spec:     spec,
	}
}
