package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Ops is the operations listener: /health, /ready and /metrics on an address of their own
// (OPS_ADDR), which the kubelet and Prometheus reach and the public load balancer does not.
type Ops struct {
	ln  net.Listener
	srv *http.Server
}

// ListenOps binds addr (so that a taken port fails start-up) for Handler(reg, ready).
func ListenOps(addr string, reg *prometheus.Registry, ready Check) (*Ops, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("OPS_ADDR %s: %w", addr, err)
	}
	return &Ops{ln: ln, srv: &http.Server{Handler: Handler(reg, ready), ReadHeaderTimeout: 5 * time.Second}}, nil
}

// URL is the listener's base URL.
func (o *Ops) URL() string { return "http://" + o.ln.Addr().String() }

// Serve serves until ctx ends, then shuts down gracefully.
func (o *Ops) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- o.srv.Serve(o.ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := o.srv.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// Close releases the listener of an Ops that never served.
func (o *Ops) Close() error { return o.ln.Close() }

// Serve binds the operations listener on addr and runs it with every fn until ctx ends or
// one of them fails (RunAll), logging the start and the stop.
func Serve(ctx context.Context, log *slog.Logger, addr string, reg *prometheus.Registry, ready Check, fns ...func(ctx context.Context) error) error {
	ops, err := ListenOps(addr, reg, ready)
	if err != nil {
		return err
	}
	log.Info("started", "ops", ops.URL())
	err = RunAll(ctx, append(fns, ops.Serve)...)
	log.Info("stopped")
	return err
}

// RunAll runs every fn until ctx ends or one of them fails, which stops the others; it
// returns the first error (nil when ctx ended).
func RunAll(ctx context.Context, fns ...func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				once.Do(func() { first = err })
				cancel()
			}
		}()
	}
	wg.Wait()
	return first
}

// Checks is a readiness check passing when every check passes.
func Checks(cs ...Check) Check {
	return func(ctx context.Context) error {
		for _, c := range cs {
			if c == nil {
				continue
			}
			if err := c(ctx); err != nil {
				return err
			}
		}
		return nil
	}
}
