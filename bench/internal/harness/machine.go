package harness

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Machine describes where a run ran.
type Machine struct {
	CPU       string
	Cores     int
	Memory    string
	Kernel    string
	Go        string
	Java      string
	Broker    string
	LoadStart string
}

func describeMachine(cfg Config) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Broker: cfg.BrokerDesc, LoadStart: loadAverage()}
	m.CPU = procField("/proc/cpuinfo", "model name")
	m.Memory = procField("/proc/meminfo", "MemTotal")
	var kb int64
	if _, err := fmt.Sscanf(m.Memory, "%d kB", &kb); err == nil {
		m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if cfg.Java != "" {
		if out, err := exec.Command(cfg.Java, "-version").CombinedOutput(); err == nil {
			m.Java = strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
		}
	}
	return m
}

// procField returns the value of the first "name: value" line of file.
func procField(file, name string) string {
	f, err := os.Open(file)
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
