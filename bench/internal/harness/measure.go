package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pollEvery is how often the harness samples the contender's CPU time and
// asks the broker whether the contender is done; it bounds the timing error.
const pollEvery = 10 * time.Millisecond

// execution is one contender process working through one workload.
type execution struct {
	contender Contender
	args      []string // contender flags
	group     string
	input     string
	inputEnds map[int32]int64 // done when the group committed these
	output    string
	outputs   int64 // ... and the output topic holds at least this many offsets
	timeout   time.Duration
	logPath   string
}

// measurement is what one execution measured.
type measurement struct {
	start     time.Time // just before the process started
	firstRead time.Time // the contender's "first-read" line; zero if none
	done      time.Time // when the harness saw everything committed
	cpuWindow float64   // CPU seconds from first read to done
	cpuTotal  float64   // CPU seconds from start to done
	peakRSS   int64     // VmHWM at done, bytes
	load      string    // 1-minute load average at start
}

// run starts the contender, waits until its group has committed the end of
// its input and its output holds every record, then stops it with SIGTERM.
func (e execution) run(ctx context.Context, k *kafka, cfg Config) (m measurement, err error) {
	logf, err := os.Create(e.logPath)
	if err != nil {
		return m, err
	}
	defer logf.Close()
	cmd := e.contender.cmd(cfg, e.args)
	fmt.Fprintf(logf, "$ %s\n", strings.Join(cmd.Args, " "))
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return m, err
	}
	m.load = loadAverage()
	m.start = time.Now()
	if err := cmd.Start(); err != nil {
		return m, fmt.Errorf("start %s: %w", e.contender.Name, err)
	}
	pid := cmd.Process.Pid
	firstRead := make(chan time.Time, 1)
	go scanStdout(stdout, logf, firstRead)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	var samples []cpuSample
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return m, fmt.Errorf("%s did not finish within %s (log: %s)", e.contender.Name, e.timeout, e.logPath)
		case err := <-exited:
			stopped = true
			return m, fmt.Errorf("%s exited early: %v (log: %s)", e.contender.Name, err, e.logPath)
		case t := <-firstRead:
			m.firstRead = t
		case <-tick.C:
		}
		now := time.Now()
		if c, err := cpuSeconds(pid); err == nil {
			samples = append(samples, cpuSample{now, c})
		}
		ok, err := e.finished(ctx, k)
		if err != nil && ctx.Err() == nil {
			return m, err
		}
		if !ok {
			continue
		}
		m.done = time.Now()
		if m.firstRead.IsZero() {
			select { // the line may still be in the pipe
			case m.firstRead = <-firstRead:
			case <-time.After(time.Second):
			}
		}
		m.cpuTotal, _ = cpuSeconds(pid)
		if !m.firstRead.IsZero() {
			m.cpuWindow = m.cpuTotal - cpuAt(samples, m.firstRead)
		}
		if m.peakRSS, err = peakRSS(pid); err != nil {
			return m, err
		}
		stopped = true
		if err := stop(cmd.Process, exited, 60*time.Second); err != nil {
			fmt.Fprintf(logf, "harness: %v\n", err)
		}
		return m, nil
	}
}

// finished reports whether the group committed the end of the input and
// the output holds at least e.outputs offsets.
func (e execution) finished(ctx context.Context, k *kafka) (bool, error) {
	ok, err := k.caughtUp(ctx, e.group, e.input, e.inputEnds)
	if err != nil || !ok {
		return false, err
	}
	n, err := k.sumEnds(ctx, e.output)
	return n >= e.outputs, err
}

// scanStdout copies the contender's stdout to its log and reports the
// first "first-read <unix nanos>" line.
func scanStdout(r io.Reader, log io.Writer, firstRead chan<- time.Time) {
	sc := bufio.NewScanner(r)
	seen := false
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(log, line)
		if rest, ok := strings.CutPrefix(line, "first-read "); ok && !seen {
			if ns, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64); err == nil {
				seen = true
				firstRead <- time.Unix(0, ns)
			}
		}
	}
}

// stop sends SIGTERM and waits for the exit, then SIGKILL.
func stop(p *os.Process, exited <-chan error, grace time.Duration) error {
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-exited:
		return nil
	case <-time.After(grace):
		_ = p.Kill()
		<-exited
		return fmt.Errorf("pid %d did not exit %s after SIGTERM; killed", p.Pid, grace)
	}
}
