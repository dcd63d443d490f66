package observability

// Exporter is a source of metrics outside the platform's binaries, with the metric names the
// rules and dashboards read from it. The binding test (tests/observability) accepts a
// selected metric when the platform exports it or when it is listed here.
type Exporter struct {
	Name    string
	Version string // the version the names were checked against
	From    string // how it is deployed
	Metrics []string
}

// Exporters are the exporters the rules and dashboards rely on, in one place.
func Exporters() []Exporter {
	return []Exporter{{
		Name: "kube-state-metrics", Version: "v2.16.0", From: "kube-prometheus-stack (subchart kube-state-metrics)",
		Metrics: []string{
			"kube_pod_status_phase",
			"kube_pod_container_status_restarts_total",
			"kube_pod_container_status_waiting_reason",
			"kube_pod_container_resource_requests",
			"kube_pod_container_resource_limits",
			"kube_horizontalpodautoscaler_status_current_replicas",
			"kube_horizontalpodautoscaler_status_desired_replicas",
			"kube_horizontalpodautoscaler_spec_max_replicas",
			"kube_poddisruptionbudget_status_current_healthy",
			"kube_poddisruptionbudget_status_desired_healthy",
		},
	}, {
		Name: "cAdvisor", Version: "kubelet of Kubernetes 1.33", From: "the kubelet's /metrics/cadvisor (kube-prometheus-stack's kubelet ServiceMonitor)",
		Metrics: []string{"container_cpu_usage_seconds_total", "container_memory_working_set_bytes"},
	}, {
		Name: "node-exporter", Version: "v1.9.1", From: "kube-prometheus-stack (subchart prometheus-node-exporter)",
		Metrics: []string{"node_cpu_seconds_total"},
	}, {
		Name: "blackbox_exporter", Version: "v0.27.0", From: "prometheus-blackbox-exporter chart, probing the API's public HTTPS endpoint",
		Metrics: []string{"probe_ssl_earliest_cert_expiry"},
	}, {
		Name: "Prometheus", Version: "v3.5.0", From: "the scrape itself (a synthetic series per target)",
		Metrics: []string{"up"},
	}}
}
