//go:build unix

package meshtest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// HoldExample makes the test the only one, among the test processes of this
// machine, that runs the example service (examples/devices) against
// brokers, until it ends. The example's topic and group names are fixed,
// so two instances at once (go test runs packages in parallel) would share
// their consumer groups and take each other's partitions.
func HoldExample(tb testing.TB, brokers []string) {
	tb.Helper()
	sum := sha256.Sum256([]byte(strings.Join(brokers, ",")))
	path := filepath.Join(os.TempDir(), "kafmesh-example-"+hex.EncodeToString(sum[:6])+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		tb.Fatalf("example lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		tb.Fatalf("example lock %s: %v", path, err)
	}
	tb.Cleanup(func() { f.Close() }) // closing releases the lock
}
