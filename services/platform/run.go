package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
)

// Process is what a service binary's main gets from Run: its configuration, logger and
// metrics registry.
type Process struct {
	Config   Config
	Log      *slog.Logger
	Registry *prometheus.Registry
}

// Run reads the configuration of service from the environment and calls start with a
// context that ends on SIGINT/SIGTERM. start returns the readiness check and a function that
// blocks until the service has stopped. Run serves /health, /ready and /metrics on
// HTTP_ADDR meanwhile, and returns the process exit code.
func Run(service string, start func(ctx context.Context, p Process) (ready Check, wait func() error, err error)) int {
	cfg, err := LoadConfig(service, os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: configuration: %v\n", service, err)
		return 2
	}
	log := NewLogger(cfg)
	ctx, stop := SignalContext()
	defer stop()
	p := Process{Config: cfg, Log: log, Registry: NewRegistry()}
	ready, wait, err := start(ctx, p)
	if err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- Serve(ctx, cfg.HTTPAddr, Handler(p.Registry, ready)) }()
	log.Info("started", "http", cfg.HTTPAddr)
	code := 0
	if err := wait(); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("service failed", "err", err)
		code = 1
	}
	stop()
	if err := <-httpDone; err != nil {
		log.Error("http server", "err", err)
		code = 1
	}
	log.Info("stopped")
	return code
}

// Require returns an error naming the first empty variable among name/value pairs.
func Require(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return fmt.Errorf("%s must be set for this service", pairs[i])
		}
	}
	return nil
}
