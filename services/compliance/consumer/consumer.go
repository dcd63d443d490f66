// Package consumer is the compliance-service's Kafka side: the consumer group over orders
// and trades that feeds compliance.Monitor (poison-guarded: the audit trail never skips an
// event), and the publisher of compliance-events. The compliance-service binary and the
// all-in-one cantondex both run it.
package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cantondex/platform/services/catalog"
	"github.com/cantondex/platform/services/compliance"
	"github.com/cantondex/platform/services/flow"
	"github.com/cantondex/platform/services/kafka"
	"github.com/cantondex/platform/services/topics"
	"github.com/cantondex/platform/services/trading"
)

// Events publishes compliance events on compliance-events, keyed by account.
type Events struct {
	P interface {
		Publish(ctx context.Context, msgs ...kafka.Message) error
	}
}

// PublishComplianceEvents implements compliance.Publisher.
func (e Events) PublishComplianceEvents(ctx context.Context, es []compliance.Event) error {
	msgs := make([]kafka.Message, 0, len(es))
	for _, ev := range es {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		msgs = append(msgs, kafka.Message{Topic: topics.ComplianceEvents, Key: []byte(ev.Alert.Account), Value: b})
	}
	return e.P.Publish(ctx, msgs...)
}

// Group is the compliance-service's consumer group over orders and trades. A message it
// cannot decode stops its partition there (the poison guard): the audit trail never skips
// an event.
func Group(k *flow.Kafka, m *compliance.Monitor) (*kafka.Group, error) {
	return k.Group(catalog.ComplianceService, []string{topics.Orders, topics.Trades}, 1000, func(ctx context.Context, msgs []kafka.Message) error {
		return Handle(ctx, m, msgs)
	})
}

// Handle audits msgs in order, runs of one topic at a time, up to the first undecodable one.
func Handle(ctx context.Context, m *compliance.Monitor, msgs []kafka.Message) error {
	var cmds []trading.OrderCommand
	var xs []trading.Execution
	flush := func() error {
		if len(cmds) > 0 {
			if err := m.HandleCommands(ctx, cmds); err != nil {
				return err
			}
			cmds = nil
		}
		if len(xs) > 0 {
			if err := m.HandleExecutions(ctx, xs); err != nil {
				return err
			}
			xs = nil
		}
		return nil
	}
	for _, msg := range msgs {
		switch msg.Topic {
		case topics.Orders:
			if len(xs) > 0 {
				if err := flush(); err != nil {
					return err
				}
			}
			c, err := kafka.DecodeCommand(msg)
			if err == nil && (c.OrderID == "" || c.Op == "") {
				err = errors.New("command without id or op")
			}
			if err != nil {
				if ferr := flush(); ferr != nil {
					return ferr
				}
				return kafka.Poison(msg, err)
			}
			cmds = append(cmds, c)
		case topics.Trades:
			if len(cmds) > 0 {
				if err := flush(); err != nil {
					return err
				}
			}
			x, err := kafka.DecodeExecution(msg)
			if err == nil && x.ID == "" {
				err = errors.New("execution without id")
			}
			if err != nil {
				if ferr := flush(); ferr != nil {
					return ferr
				}
				return kafka.Poison(msg, err)
			}
			xs = append(xs, x)
		default:
			return kafka.Poison(msg, fmt.Errorf("unexpected topic %s", msg.Topic))
		}
	}
	return flush()
}
