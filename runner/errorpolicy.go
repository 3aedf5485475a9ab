package runner

import (
	"errors"
	"fmt"
	"time"
)

// ErrNilHandler is returned when a part is registered without a handler.
var ErrNilHandler = errors.New("runner: nil handler")

// ErrorPolicy says what a processor or sink does with a record it failed to
// handle (the handler returned an error, or the value could not be
// decoded).
type ErrorPolicy struct {
	action   policyAction
	attempts int
	backoff  time.Duration
	then     *ErrorPolicy
}

type policyAction uint8

const (
	actionFail policyAction = iota
	actionSkip
	actionRetry
	actionDeadLetter
)

// FailOnError stops the service: Run returns the error. Nothing after the
// failed record is committed, so a restart handles it again. The default.
func FailOnError() ErrorPolicy { return ErrorPolicy{action: actionFail} }

// SkipOnError logs the error, counts it, and goes on with the next record.
// The failed record's outputs and state changes are discarded.
func SkipOnError() ErrorPolicy { return ErrorPolicy{action: actionSkip} }

// DeadLetterOnError writes the failed record unchanged to "<group>-dlq",
// with headers kafmesh-error, kafmesh-topic, kafmesh-partition and
// kafmesh-offset, and goes on. The dead letter is written with the same
// guarantees as outputs: it is acknowledged before the input is committed.
func DeadLetterOnError() ErrorPolicy { return ErrorPolicy{action: actionDeadLetter} }

// RetryOnError calls the handler again up to attempts more times, waiting
// backoff, doubled after each try (capped at 30s), and then applies then
// (which must not itself retry). Undecodable values are not retried: they
// go to then directly.
func RetryOnError(attempts int, backoff time.Duration, then ErrorPolicy) ErrorPolicy {
	return ErrorPolicy{action: actionRetry, attempts: attempts, backoff: backoff, then: &then}
}

func (p ErrorPolicy) validate() error {
	if p.action == actionRetry {
		if p.attempts < 1 {
			return fmt.Errorf("RetryOnError needs at least 1 attempt, got %d", p.attempts)
		}
		if p.then == nil || p.then.action == actionRetry {
			return fmt.Errorf("RetryOnError: the policy after retrying must be fail, skip or dead-letter")
		}
	}
	return nil
}

// String names the policy as metrics label it.
func (p ErrorPolicy) String() string {
	switch p.action {
	case actionSkip:
		return "skip"
	case actionRetry:
		return fmt.Sprintf("retry(%d, %s, then %s)", p.attempts, p.backoff, p.then)
	case actionDeadLetter:
		return "dead-letter"
	}
	return "fail"
}

// final is the policy applied once retries are exhausted.
func (p ErrorPolicy) final() ErrorPolicy {
	if p.action == actionRetry {
		return *p.then
	}
	return p
}

func (p ErrorPolicy) retryDelay(attempt int) time.Duration {
	d := p.backoff
	for i := 1; i < attempt && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}
