package kafka

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cantondex/platform/services/kafka/command"
	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/services/trading"
)

// publishJSON sends vs to topic as JSON, each keyed by its market.
// trace(v) is the traceparent of v's record header.
func publishJSON[T any](ctx context.Context, p *Producer, topic string, market, trace func(*T) string, vs []T) error {
	msgs := make([]Message, len(vs))
	for i := range vs {
		v, err := json.Marshal(&vs[i])
		if err != nil {
			return fmt.Errorf("encode %s message: %w", topic, err)
		}
		msgs[i] = Message{Topic: topic, Key: []byte(market(&vs[i])), Value: v}
		if trace != nil {
			msgs[i].Trace = trace(&vs[i])
		}
	}
	return p.Publish(ctx, msgs...)
}

func decodeJSON[T any](m Message) (T, error) {
	var v T
	err := json.Unmarshal(m.Value, &v)
	return v, err
}

// PublishCommands appends order commands to the orders topic keyed by market.
func (p *Producer) PublishCommands(ctx context.Context, cmds ...trading.OrderCommand) error {
	if err := publishJSON(ctx, p, topics.Orders, func(c *trading.OrderCommand) string { return c.Market },
		func(c *trading.OrderCommand) string { return c.Trace }, cmds); err != nil {
		return trading.Errorf(trading.EUNAVAILABLE, "order log unavailable")
	}
	return nil
}

// PublishExecutions appends executions to the trades topic keyed by market.
func (p *Producer) PublishExecutions(ctx context.Context, xs []trading.Execution) error {
	return publishJSON(ctx, p, topics.Trades, func(x *trading.Execution) string { return x.Market },
		func(x *trading.Execution) string { return x.Trace }, xs)
}

// PublishSettlements appends settlements to the settlements topic keyed by market.
func (p *Producer) PublishSettlements(ctx context.Context, ss []trading.Settlement) error {
	return publishJSON(ctx, p, topics.Settlements, func(s *trading.Settlement) string { return s.Market },
		func(s *trading.Settlement) string { return s.Trace }, ss)
}

// DecodeCommand reads an orders-topic message (its trace from the record header) as
// encoding/json would, without its reflection for the form order entry writes.
func DecodeCommand(m Message) (trading.OrderCommand, error) {
	c, err := command.Decode(m.Value)
	c.Trace = m.Trace
	return c, err
}

// DecodeExecution reads a trades-topic message (its trace from the record header).
func DecodeExecution(m Message) (trading.Execution, error) {
	x, err := decodeJSON[trading.Execution](m)
	x.Trace = m.Trace
	return x, err
}

// DecodeSettlement reads a settlements-topic message (its trace from the record header).
func DecodeSettlement(m Message) (trading.Settlement, error) {
	s, err := decodeJSON[trading.Settlement](m)
	s.Trace = m.Trace
	return s, err
}

// PublishAlerts appends alerts to the alerts topic keyed by account.
func (p *Producer) PublishAlerts(ctx context.Context, as []trading.Alert) error {
	return publishJSON(ctx, p, topics.Alerts, func(a *trading.Alert) string { return a.Account }, nil, as)
}

// DecodeAlert reads an alerts-topic message.
func DecodeAlert(m Message) (trading.Alert, error) { return decodeJSON[trading.Alert](m) }
