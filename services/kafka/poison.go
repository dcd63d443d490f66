package kafka

import (
	"errors"
	"fmt"
)

// PoisonError is a message its consumer cannot decode or apply. A handler returns it
// (wrapped or not) instead of skipping the message: the group then retries the batch, so the
// partition stops at that offset until an operator deals with it, and everything before it
// has been handled.
type PoisonError struct {
	Topic     string
	Partition int32
	Offset    int64
	Err       error
	Trace     string // the message's traceparent, for the log line that reports it
}

// Poison returns the PoisonError for m.
func Poison(m Message, err error) *PoisonError {
	return &PoisonError{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Err: err, Trace: m.Trace}
}

func (e *PoisonError) Error() string {
	return fmt.Sprintf("poison message %s/%d@%d: %v", e.Topic, e.Partition, e.Offset, e.Err)
}

func (e *PoisonError) Unwrap() error { return e.Err }

// AsPoison returns the PoisonError in err's chain, or nil.
func AsPoison(err error) *PoisonError {
	var p *PoisonError
	if errors.As(err, &p) {
		return p
	}
	return nil
}
