package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/compliance"
	"github.com/cantondex/platform/services/compliance/consumer"
	"github.com/cantondex/platform/services/compliance/kmstest"
	cpg "github.com/cantondex/platform/services/compliance/postgres"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/postgres/pgtest"
	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/services/trading"
)

// washes raises an alert for every trade between two orders of one account (a stand-in for
// the surveillance package, which the service receives through compliance.Surveillance).
type washes struct{ seen []compliance.FlowEvent }

func (w *washes) Observe(ev compliance.FlowEvent) []compliance.Alert {
	w.seen = append(w.seen, ev)
	if ev.Kind == "trade" && ev.MakerAccount == ev.TakerAccount {
		return []compliance.Alert{{Detector: "wash_trade", Account: ev.TakerAccount, Market: ev.Market, TradeIDs: []string{ev.TradeID},
			OrderIDs: []string{ev.MakerOrderID, ev.TakerOrderID}, From: ev.TS, To: ev.TS, Score: 1, Reason: "both sides one owner"}}
	}
	return nil
}
func (w *washes) Flush(time.Time) []compliance.Alert { return nil }

type published struct{ msgs []kafka.Message }

func (p *published) Publish(_ context.Context, msgs ...kafka.Message) error {
	p.msgs = append(p.msgs, msgs...)
	return nil
}

func msg(t *testing.T, topic string, offset int64, v any) kafka.Message {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return kafka.Message{Topic: topic, Offset: offset, Value: b}
}

func TestFlowIntoTheAuditTrailOnce(t *testing.T) {
	ctx := context.Background()
	store := cpg.New(pgtest.New(t, "compliancesvc"))
	w, pub := &washes{}, &published{}
	m := &compliance.Monitor{Log: store, Surveillance: w, Publisher: consumer.Events{P: pub}, Cases: compliance.NewCases(store)}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	orders := []kafka.Message{
		msg(t, topics.Orders, 0, trading.OrderCommand{Op: trading.OpNew, OrderID: "o1", Account: "mo", Market: "BTC-USD", Side: trading.Sell, Type: trading.Limit, Price: 100, Quantity: 5, AcceptedAt: at}),
		msg(t, topics.Orders, 1, trading.OrderCommand{Op: trading.OpNew, OrderID: "o2", Account: "mo", Market: "BTC-USD", Side: trading.Buy, Type: trading.Limit, Price: 100, Quantity: 5, AcceptedAt: at}),
	}
	trade := &trading.Trade{ID: "BTC-USD:2:0", Market: "BTC-USD", Price: 100, Quantity: 5, MakerOrderID: "o1", TakerOrderID: "o2", MakerAccount: "mo", TakerAccount: "mo", TakerSide: trading.Buy}
	trades := []kafka.Message{msg(t, topics.Trades, 0, trading.Execution{ID: "BTC-USD:2", Market: "BTC-USD", Seq: 2, Command: trading.OpNew, OrderID: "o2",
		Events: []trading.ExecEvent{{Type: trading.ExecTrade, OrderID: "o2", Trade: trade}}, ExecutedAt: at})}
	require.NoError(t, consumer.Handle(ctx, m, orders))
	require.NoError(t, consumer.Handle(ctx, m, trades))
	// Redelivered: nothing new in the trail.
	require.NoError(t, consumer.Handle(ctx, m, append(orders, trades...)))

	var kinds []string
	require.NoError(t, store.Entries(ctx, 1, 0, func(e compliance.Entry) error { kinds = append(kinds, e.Kind+" "+e.Subject); return nil }))
	require.Len(t, kinds, 5)
	assert.Equal(t, []string{"order.new o1", "order.new o2", "trade BTC-USD:2:0", "surveillance.alert mo"}, kinds[:4])
	assert.Regexp(t, `^case.opened case-`, kinds[4], "the alert opened a case, once")
	cases, err := store.ListCases(ctx, compliance.CaseOpen, 10)
	require.NoError(t, err)
	require.Len(t, cases, 1)
	assert.Equal(t, "mo", cases[0].Subject)
	assert.Contains(t, string(cases[0].Evidence), "both sides one owner")
	require.NoError(t, compliance.Verify(ctx, store, &compliance.Verifier{}))
	require.NotEmpty(t, pub.msgs)
	assert.Equal(t, topics.ComplianceEvents, pub.msgs[0].Topic)
	assert.Equal(t, "mo", string(pub.msgs[0].Key))
	var ev compliance.Event
	require.NoError(t, json.Unmarshal(pub.msgs[0].Value, &ev))
	assert.Equal(t, "wash_trade", ev.Alert.Detector)
	assert.Equal(t, []string{"o1", "o2"}, ev.Alert.OrderIDs)
}

// An undecodable message stops the partition at its offset after the ones before it are
// audited: nothing is skipped.
func TestPoisonStopsThePartition(t *testing.T) {
	ctx := context.Background()
	store := compliance.NewMemory()
	m := &compliance.Monitor{Log: store}
	good := msg(t, topics.Orders, 7, trading.OrderCommand{Op: trading.OpNew, OrderID: "o1", Account: "a", Market: "BTC-USD"})
	bad := kafka.Message{Topic: topics.Orders, Offset: 8, Value: []byte("{not json")}
	err := consumer.Handle(ctx, m, []kafka.Message{good, bad, good})
	var p *kafka.PoisonError
	require.ErrorAs(t, err, &p)
	assert.Equal(t, int64(8), p.Offset)
	var n int
	require.NoError(t, store.Entries(ctx, 1, 0, func(compliance.Entry) error { n++; return nil }))
	assert.Equal(t, 1, n)
}

func TestSettings(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	_, err := SettingsFromEnv(t.Context(), env(nil))
	assert.ErrorContains(t, err, "AUDIT_KMS_KEY_ID (an AWS KMS ECC_NIST_P256 key) or AUDIT_SIGNING_KEY")
	_, err = SettingsFromEnv(t.Context(), env(map[string]string{"AUDIT_SIGNING_KEY": "c2hvcnQ="}))
	assert.ErrorContains(t, err, "32-byte")
	s, err := SettingsFromEnv(t.Context(), env(map[string]string{"AUDIT_SIGNING_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AUDIT_CHECKPOINT_INTERVAL": "10s"}))
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, s.CheckpointInterval)
	_, err = SettingsFromEnv(t.Context(), env(map[string]string{"AUDIT_SIGNING_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AUDIT_CHECKPOINT_INTERVAL": "soon"}))
	assert.ErrorContains(t, err, "AUDIT_CHECKPOINT_INTERVAL")
	assert.Equal(t, 30*time.Second, s.LinksRefresh)
	s, err = SettingsFromEnv(t.Context(), env(map[string]string{"AUDIT_SIGNING_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "KYC_LINKS_REFRESH": "5s"}))
	require.NoError(t, err)
	assert.Equal(t, 5*time.Second, s.LinksRefresh)
	_, err = SettingsFromEnv(t.Context(), env(map[string]string{"AUDIT_SIGNING_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "KYC_LINKS_REFRESH": "1ns"}))
	assert.ErrorContains(t, err, "KYC_LINKS_REFRESH")
	// The catalog's dependencies are checked first, naming the variable.
	err = run(env(map[string]string{}), Plugins{})
	assert.ErrorContains(t, err, "DATABASE_URL")
}

// AUDIT_KMS_KEY_ID selects the KMS signer over AUDIT_SIGNING_KEY, through the AWS SDK's
// default configuration (here a fake KMS at AWS_ENDPOINT_URL_KMS with static credentials).
func TestSettingsSignWithKMS(t *testing.T) {
	f := kmstest.New(t)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_KMS": f.URL, "AWS_REGION": "eu-central-1",
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example-secret",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	s, err := SettingsFromEnv(t.Context(), env(map[string]string{"AUDIT_KMS_KEY_ID": kmstest.KeyARN, "AUDIT_SIGNING_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}))
	require.NoError(t, err)
	assert.Equal(t, compliance.AlgECDSAP256SHA256, s.Signer.Algorithm())
	assert.Equal(t, kmstest.KeyARN, s.Signer.KeyID())
	assert.Equal(t, f.PublicKeyDER(), s.Signer.PublicKey())
	_, err = SettingsFromEnv(t.Context(), env(map[string]string{"AUDIT_KMS_KEY_ID": "arn:aws:kms:eu-central-1:111122223333:key/unknown"}))
	assert.ErrorContains(t, err, "AUDIT_KMS_KEY_ID arn:aws:kms:eu-central-1:111122223333:key/unknown: get public key")
}
