package kafka

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/services/trading"
)

// publishJSON sends vs to topic as JSON, each keyed by its market.
func publishJSON[T any](ctx context.Context, p *Producer, topic string, market func(*T) string, vs []T) error {
	msgs := make([]Message, len(vs))
	for i := range vs {
		v, err := json.Marshal(&vs[i])
		if err != nil {
			return fmt.Errorf("encode %s message: %w", topic, err)
		}
		msgs[i] = Message{Topic: topic, Key: []byte(market(&vs[i])), Value: v}
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
	if err := publishJSON(ctx, p, topics.Orders, func(c *trading.OrderCommand) string { return c.Market }, cmds); err != nil {
		return trading.Errorf(trading.EUNAVAILABLE, "order log unavailable")
	}
	return nil
}

// PublishExecutions appends executions to the trades topic keyed by market.
func (p *Producer) PublishExecutions(ctx context.Context, xs []trading.Execution) error {
	return publishJSON(ctx, p, topics.Trades, func(x *trading.Execution) string { return x.Market }, xs)
}

// PublishSettlements appends settlements to the settlements topic keyed by market.
func (p *Producer) PublishSettlements(ctx context.Context, ss []trading.Settlement) error {
	return publishJSON(ctx, p, topics.Settlements, func(s *trading.Settlement) string { return s.Market }, ss)
}

// DecodeCommand reads an orders-topic message.
func DecodeCommand(m Message) (trading.OrderCommand, error) {
	return decodeJSON[trading.OrderCommand](m)
}

// DecodeExecution reads a trades-topic message.
func DecodeExecution(m Message) (trading.Execution, error) { return decodeJSON[trading.Execution](m) }

// DecodeSettlement reads a settlements-topic message.
func DecodeSettlement(m Message) (trading.Settlement, error) {
	return decodeJSON[trading.Settlement](m)
}

// PublishAlerts appends alerts to the alerts topic keyed by account.
func (p *Producer) PublishAlerts(ctx context.Context, as []trading.Alert) error {
	return publishJSON(ctx, p, topics.Alerts, func(a *trading.Alert) string { return a.Account }, as)
}

// DecodeAlert reads an alerts-topic message.
func DecodeAlert(m Message) (trading.Alert, error) { return decodeJSON[trading.Alert](m) }
