package runner

import (
	"log/slog"
	"time"
)

// closeBounded closes a group client (closeClient is its Close), waiting at
// most timeout: leaving a group can wait on a join the brokers hold up to
// the rebalance timeout (or on brokers that are away), and shutdown must
// stay bounded. The client goes on closing in the background.
func closeBounded(closeClient func(), timeout time.Duration, log *slog.Logger) {
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		closeClient()
	}()
	select {
	case <-closed:
	case <-time.After(timeout):
		log.Warn("leaving the group takes longer than the shutdown timeout; not waiting", "timeout", timeout)
	}
}
