// Package apiserver is what the api-gateway and cantondex commands share: read the
// configuration from the environment, start the backend (app) and serve the REST API
// (gateway) over it until a signal ends the context.
package apiserver

import (
	"context"
	"log/slog"
	"os"

	"github.com/cantondex/platform/services/app"
	"github.com/cantondex/platform/services/gateway"
	"github.com/cantondex/platform/services/platform"
)

// Options is how one command differs from the other.
type Options struct {
	Service string // the name in logs and metrics
	// Configure adjusts the configurations read from the environment before anything starts.
	Configure func(pc *platform.Config, gc *gateway.Config, ac *app.Config)
	// Started runs once the backend is up, before the API is built (seeding, for one).
	Started func(ctx context.Context, a *app.App) error
	// Listening runs once the API is built, before it serves.
	Listening func(g *gateway.Gateway, log *slog.Logger)
}

// Run serves the API as o says until a signal arrives.
func Run(o Options) error {
	ctx, stop := platform.SignalContext()
	defer stop()
	pc, err := platform.LoadConfig(o.Service, os.Getenv)
	if err != nil {
		return err
	}
	gc, err := gateway.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	ac, err := app.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if o.Configure != nil {
		o.Configure(&pc, &gc, &ac)
	}
	log := platform.NewLogger(pc)
	reg := platform.NewRegistry()
	ac.Log, ac.Registry = log, reg
	ac.RedisPrefix = os.Getenv("REDIS_PREFIX") // "" takes the app's default
	a, err := app.Start(ctx, ac)
	if err != nil {
		return err
	}
	defer a.Close()
	if o.Started != nil {
		if err := o.Started(ctx, a); err != nil {
			return err
		}
	}
	g, err := gateway.New(ctx, gc, gateway.Backend{
		Orders: a.Orders, Markets: a.Markets, Accounts: a.Accounts, Risk: a.Risk, Redis: a.Redis, Ready: a.Ready,
	}, reg, log)
	if err != nil {
		return err
	}
	defer g.Close()
	if o.Listening != nil {
		o.Listening(g, log)
	}
	err = g.Serve(ctx)
	log.Info("stopping")
	return err
}
