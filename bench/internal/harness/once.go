package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/kafmesh/kafmesh/bench/internal/workload"
)

// workloadTopics are the topics a workload's runs share.
type workloadTopics struct {
	join, lookup string          // W3
	probes       string          // W2
	probeEnds    map[int32]int64 // W2
}

// once runs contender c once on workload w (repeat rep) with fresh
// topics, a fresh group and an empty state folder, and checks its output.
// A contender failure is in the result; the error is only for a canceled
// run.
func (r *runner) once(ctx context.Context, w string, c Contender, rep int, t workloadTopics) (Result, error) {
	spec := r.cfg.Spec
	join, lookup, probes, probeEnds := t.join, t.lookup, t.probes, t.probeEnds
	group := fmt.Sprintf("%s-%s-%s", r.prefix, w, c.Name)
	logName := w + "-" + c.Name
	if r.cfg.Repeat > 1 {
		group += fmt.Sprintf("-r%d", rep+1)
		logName += fmt.Sprintf("-r%d", rep+1)
	}
	e := execution{contender: c, group: group, output: group + "-out", timeout: r.cfg.Timeout,
		logPath: filepath.Join(r.cfg.WorkDir, "logs", logName+".log")}
	stateDir := filepath.Join(r.cfg.WorkDir, "state", group)
	e.args = []string{"--brokers", joinComma(r.cfg.Brokers), "--group", group, "--output", e.output, "--state-dir", stateDir,
		"--linger-ms", fmt.Sprint(r.cfg.LingerMS), "--batch-bytes", fmt.Sprint(r.cfg.BatchBytes), "--commit-ms", fmt.Sprint(r.cfg.CommitMS), "--fetch-max-wait-ms", "500"}
	res := Result{Workload: w, Contender: c}
	err := func() error {
		if err := r.k.createTopics(ctx, spec.Partitions, false, e.output); err != nil {
			return err
		}
		switch w {
		case "w1":
			e.input, e.inputEnds, e.outputs, res.Items = r.input, r.inputEnds, int64(spec.Records), spec.Records
			e.args = append(e.args, "--mode", "count", "--input", r.input)
			if c.stateTopicsCreated != nil {
				if err := r.k.createTopics(ctx, spec.Partitions, true, c.stateTopicsCreated(group)...); err != nil {
					return err
				}
			}
		case "w3":
			e.input, e.inputEnds, e.outputs, res.Items = r.input, r.inputEnds, int64(spec.Records), spec.Records
			e.args = append(e.args, "--mode", "enrich", "--input", r.input, "--join", join, "--lookup", lookup)
		case "w2":
			e.input, e.inputEnds, e.outputs, res.Items = probes, probeEnds, int64(spec.Probes), spec.Records
			e.args = append(e.args, "--mode", "count", "--input", probes)
			changelog := c.changelog(group)
			if err := r.k.createTopics(ctx, spec.Partitions, true, changelog); err != nil {
				return err
			}
			start := time.Now()
			if err := r.ld.load(ctx, changelog, spec.Records, func(i int) (string, []byte) {
				return workload.RestoreKey(i), c.changelogValue(workload.RestoredCount(i))
			}); err != nil {
				return err
			}
			r.cfg.logf("w2: loaded %d keys into %s in %s", spec.Records, changelog, time.Since(start).Round(time.Millisecond))
		}
		r.cfg.logf("%s: running %s", w, c.Label)
		m, err := e.run(ctx, r.k, r.cfg)
		res.Load = m.load
		if err != nil {
			return err
		}
		_ = os.RemoveAll(stateDir)
		res.PeakRSS = m.peakRSS
		if !m.firstRead.IsZero() {
			res.Startup = m.firstRead.Sub(m.start)
		}
		if w == "w2" {
			res.Wall, res.CPU = m.done.Sub(m.start), m.cpuTotal
		} else {
			if m.firstRead.IsZero() {
				return fmt.Errorf("%s never printed its first-read line", c.Name)
			}
			res.Wall, res.CPU = m.done.Sub(m.firstRead), m.cpuWindow
		}
		outs, err := readAll(ctx, r.cfg.Brokers, e.output, int(e.outputs))
		if err != nil {
			return fmt.Errorf("read output: %w", err)
		}
		switch w {
		case "w1":
			return checkCounts(spec, outs)
		case "w2":
			return checkRestored(spec, outs)
		default:
			return checkEnriched(spec, outs)
		}
	}()
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		res.Err = err
		r.cfg.logf("%s: %s FAILED: %v", w, c.Label, err)
	} else {
		r.cfg.logf("%s: %s: %.0f/s, wall %.2fs, CPU %.2fs, peak RSS %d MiB (load %s)",
			w, c.Label, res.Rate(), res.Wall.Seconds(), res.CPU, res.PeakRSS>>20, res.Load)
	}
	return res, nil
}

// median returns the run with the median rate, with the rates of all runs;
// any failed run makes the whole result failed.
func median(runs []Result) Result {
	for _, r := range runs {
		if r.Err != nil {
			return r
		}
	}
	sorted := append([]Result(nil), runs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Rate() < sorted[j].Rate() })
	m := sorted[(len(sorted)-1)/2]
	m.RoundRates = nil
	for _, r := range runs {
		m.RoundRates = append(m.RoundRates, r.Rate())
	}
	return m
}
