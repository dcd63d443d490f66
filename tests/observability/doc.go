// Package observability holds the tests of the platform's monitoring as code
// (components/observability) that need the Prometheus module: every alerting rule evaluated
// on series in the promtool "test rules" style, and the binding test, which parses every
// PromQL expression of the rules and dashboards and checks that each metric it selects is
// exported by the running platform or by an exporter listed in observability.Exporters.
//
// The Prometheus module is large and would raise the versions of shared dependencies (gRPC,
// OpenTelemetry) for every module of the workspace, so this is a module of its own, outside
// go.work: run it with GOWORK=off (tests/all.sh does).
package observability
