package kafka

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/services/trading"
)

// PublishCommands appends order commands to the orders topic keyed by market, as JSON.
func (p *Producer) PublishCommands(ctx context.Context, cmds ...trading.OrderCommand) error {
	msgs := make([]Message, len(cmds))
	for i, c := range cmds {
		v, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("encode command: %w", err)
		}
		msgs[i] = Message{Topic: topics.Orders, Key: []byte(c.Market), Value: v}
	}
	if err := p.Publish(ctx, msgs...); err != nil {
		return trading.Errorf(trading.EUNAVAILABLE, "order log unavailable")
	}
	return nil
}

// DecodeCommand reads an orders-topic message.
func DecodeCommand(m Message) (trading.OrderCommand, error) {
	var c trading.OrderCommand
	err := json.Unmarshal(m.Value, &c)
	return c, err
}

// PublishExecutions appends executions to the trades topic keyed by market.
func (p *Producer) PublishExecutions(ctx context.Context, xs []trading.Execution) error {
	msgs := make([]Message, len(xs))
	for i, x := range xs {
		v, err := json.Marshal(x)
		if err != nil {
			return fmt.Errorf("encode execution: %w", err)
		}
		msgs[i] = Message{Topic: topics.Trades, Key: []byte(x.Market), Value: v}
	}
	return p.Publish(ctx, msgs...)
}

// DecodeExecution reads a trades-topic message.
func DecodeExecution(m Message) (trading.Execution, error) {
	var x trading.Execution
	err := json.Unmarshal(m.Value, &x)
	return x, err
}
