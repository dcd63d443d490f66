// Command compliance-service keeps the venue's record and watches its flow: it consumes the
// orders and trades topics in its own group (compliance-service), appends every order
// command, trade and rejection to the audit trail in PostgreSQL's schema compliance
// (idempotent by event id, so redeliveries and replays add nothing), runs the surveillance
// detectors on the same events and publishes their alerts on compliance-events, and signs a
// checkpoint of the trail (a Merkle root) every AUDIT_CHECKPOINT_INTERVAL (default 1m). It
// needs DATABASE_URL and KAFKA_BROKERS (its catalog entry) and a checkpoint signer: in the
// cluster AUDIT_KMS_KEY_ID, the ARN of the program's AWS KMS key audit-signing (ECDSA P-256,
// signed through the KMS API with the pod's IRSA role, the region from AWS_REGION); else
// AUDIT_SIGNING_KEY (base64 of a 32-byte Ed25519 seed, local runs and tests; AUDIT_KEY_ID
// names that key in each checkpoint). It exits naming what is missing. /health, /ready and
// /metrics are on OPS_ADDR (default :9090).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/compliance"
	"github.com/cantondex/platform/services/compliance/consumer"
	cpg "github.com/cantondex/platform/services/compliance/postgres"
	"github.com/cantondex/platform/services/compliance/surveillance"
	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/platform"
	"github.com/cantondex/platform/services/platform/version"
	"github.com/cantondex/platform/services/postgres"
)

func main() {
	if version.Handle(os.Stdout, catalog.ComplianceService, os.Args[1:]) {
		return
	}
	plugins, err := PluginsFromEnv(os.Getenv)
	if err == nil {
		err = run(os.Getenv, plugins)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compliance-service:", err)
		os.Exit(1)
	}
}

// Plugins are the engines the service runs: the surveillance detectors over the flow
// (services/compliance/surveillance behind compliance.Surveillance). Nil runs the audit trail
// and checkpoints only.
type Plugins struct {
	Surveillance compliance.Surveillance
	// Links, when set, are the beneficial owners the detectors count by: the service
	// refreshes them from the KYC records every KYC_LINKS_REFRESH.
	Links *compliance.KYCLinks
}

// PluginsFromEnv runs the surveillance detectors with SURVEILLANCE_SETTINGS over their
// defaults, with the accounts linked by KYC (shared beneficial owners) as one owner.
func PluginsFromEnv(getenv func(string) string) (Plugins, error) {
	cfg, err := surveillance.ConfigFromEnv(getenv)
	if err != nil {
		return Plugins{}, fmt.Errorf("configuration: %w", err)
	}
	links := &compliance.KYCLinks{}
	return Plugins{Surveillance: surveillance.Live{D: surveillance.New(cfg, links)}, Links: links}, nil
}

// Settings are the service's own settings beyond the catalog's.
type Settings struct {
	Signer             compliance.Signer
	CheckpointInterval time.Duration
	LinksRefresh       time.Duration
}

// SettingsFromEnv reads AUDIT_KMS_KEY_ID or else AUDIT_SIGNING_KEY and AUDIT_KEY_ID,
// AUDIT_CHECKPOINT_INTERVAL and KYC_LINKS_REFRESH (how often the KYC links are re-read,
// default 30s). With AUDIT_KMS_KEY_ID it reads the key's public key from KMS (the AWS SDK's
// default configuration: IRSA in the cluster).
func SettingsFromEnv(ctx context.Context, getenv func(string) string) (Settings, error) {
	s := Settings{CheckpointInterval: time.Minute}
	var err error
	if s.LinksRefresh, err = compliance.LinksRefreshFromEnv(getenv); err != nil {
		return s, err
	}
	switch {
	case getenv("AUDIT_KMS_KEY_ID") != "":
		aws, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return s, fmt.Errorf("AUDIT_KMS_KEY_ID: aws configuration: %w", err)
		}
		if s.Signer, err = compliance.NewKMSSigner(ctx, kms.NewFromConfig(aws), getenv("AUDIT_KMS_KEY_ID")); err != nil {
			return s, err
		}
	case getenv("AUDIT_SIGNING_KEY") != "":
		if s.Signer, err = compliance.SignerFromSettings(getenv("AUDIT_KEY_ID"), getenv("AUDIT_SIGNING_KEY")); err != nil {
			return s, err
		}
	default:
		return s, errors.New("a checkpoint signer is required: AUDIT_KMS_KEY_ID (an AWS KMS ECC_NIST_P256 key) or AUDIT_SIGNING_KEY (base64 of a 32-byte Ed25519 seed)")
	}
	if v := getenv("AUDIT_CHECKPOINT_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 24*time.Hour {
			return s, fmt.Errorf("AUDIT_CHECKPOINT_INTERVAL %q: want a duration from 1s to 24h", v)
		}
		s.CheckpointInterval = d
	}
	return s, nil
}

func run(getenv func(string) string, plugins Plugins) error {
	entry := catalog.MustLookup(catalog.ComplianceService)
	cfg, err := platform.LoadConfig(entry, getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := platform.NewLogger(cfg)
	ctx, stop := platform.SignalContext()
	defer stop()
	settings, err := SettingsFromEnv(ctx, getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	reg := platform.NewRegistry()

	db, err := postgres.Open(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer db.Close()
	k := flow.NewKafka(entry, cfg.Kafka, cfg.KafkaInstanceID, flow.NewMetrics(reg), log)
	prod, err := k.StartProducer()
	if err != nil {
		return err
	}
	defer prod.Close()
	store := cpg.New(db)
	m := &compliance.Monitor{Log: store, Surveillance: plugins.Surveillance, Publisher: consumer.Events{P: prod}, Cases: compliance.NewCases(store)}
	runs := []func(context.Context) error{}
	if plugins.Links != nil {
		m.Links = plugins.Links
		links := func(ctx context.Context) error {
			return plugins.Links.Run(ctx, store, settings.LinksRefresh, func(err error) { log.Error("kyc links refresh", "err", err) })
		}
		runs = append(runs, links)
	}
	g, err := consumer.Group(k, m)
	if err != nil {
		return err
	}
	g.Lag = platform.NewFlowMetrics(reg).Lag
	checkpoints := func(ctx context.Context) error {
		return compliance.Checkpoints(ctx, store, settings.Signer, settings.CheckpointInterval, func(err error) {
			log.Error("audit checkpoint", "err", err)
		})
	}
	return platform.Serve(ctx, log, cfg.OpsAddr, reg, platform.Checks(db.Ping, k.Ready), append(runs, g.Run, checkpoints)...)
}
