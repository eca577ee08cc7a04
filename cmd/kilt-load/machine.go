package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Where the machine's CPU went during a run. On one machine the server, the database, this
// tool and everything else share the cores; the server's own CPU time says nothing of what
// was left idle or who else took it. /proc/stat counts the time of all cores by kind.

// machineStat is the machine's CPU time so far, summed over its cores, by kind (the "cpu"
// line of /proc/stat, in clock ticks), and the number of cores (its "cpuN" lines).
type machineStat struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal uint64
	Cores                                                 int
}

// busy is the time spent running something: everything but idle and iowait. Guest time is
// already within user and nice.
func (m machineStat) busy() uint64 {
	return m.User + m.Nice + m.System + m.IRQ + m.SoftIRQ + m.Steal
}

func (m machineStat) total() uint64 { return m.busy() + m.Idle + m.IOWait }

// readMachineStat reads /proc/stat.
func readMachineStat() (machineStat, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineStat{}, err
	}
	return parseMachineStat(b)
}

// parseMachineStat reads the contents of /proc/stat: the first eight counts of its "cpu"
// line (user nice system idle iowait irq softirq steal; kernels before 2.6.11 have fewer,
// and are refused) and the number of "cpuN" lines.
func parseMachineStat(b []byte) (machineStat, error) {
	var m machineStat
	var haveTotal bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		if f[0] != "cpu" {
			if _, err := strconv.Atoi(f[0][3:]); err != nil {
				return machineStat{}, fmt.Errorf("/proc/stat: unexpected line %q", f[0])
			}
			m.Cores++
			continue
		}
		if len(f) < 9 {
			return machineStat{}, fmt.Errorf("/proc/stat: cpu line has %d counts, want at least 8", len(f)-1)
		}
		var n [8]uint64
		for i := range n {
			v, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				return machineStat{}, fmt.Errorf("/proc/stat: %q is not a count", f[i+1])
			}
			n[i] = v
		}
		m.User, m.Nice, m.System, m.Idle, m.IOWait, m.IRQ, m.SoftIRQ, m.Steal = n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]
		haveTotal = true
	}
	if err := sc.Err(); err != nil {
		return machineStat{}, fmt.Errorf("/proc/stat: %v", err)
	}
	if !haveTotal || m.Cores == 0 {
		return machineStat{}, errors.New("/proc/stat: no cpu lines")
	}
	return m, nil
}

// MachineUsage is where the machine's cores went during a run, in cores (2.0: two cores the
// whole run), and per 2xx answer what this tool and everything but the server and the tool
// (the database, other programs) took.
type MachineUsage struct {
	Cores  int     `json:"cores"`
	Busy   float64 `json:"busy_cores"`
	User   float64 `json:"user_cores"`   // user and nice
	Kernel float64 `json:"kernel_cores"` // system, interrupts, steal
	Idle   float64 `json:"idle_cores"`
	IOWait float64 `json:"iowait_cores"`
	// ClientMS is this tool's CPU per 2xx answer; OtherMS the machine's busy time per 2xx
	// answer less the server's and the tool's (only with --pid). The server's time is
	// measured over a slightly longer span than the machine's, so OtherMS errs low.
	ClientMS float64  `json:"client_cpu_ms_per_2xx,omitempty"`
	OtherMS  *float64 `json:"other_cpu_ms_per_2xx,omitempty"`
}

// machineUsage is what the machine did between two readings, with the server's CPU time
// (nil without --pid) and the tool's over the same run and its number of 2xx answers.
func machineUsage(before, after machineStat, server *time.Duration, client time.Duration, successes int64) (*MachineUsage, error) {
	if after.Cores != before.Cores || after.total() < before.total() || after.busy() < before.busy() {
		return nil, errors.New("/proc/stat: the counts went backwards or the cores changed during the run")
	}
	total := float64(after.total() - before.total())
	if total == 0 {
		return nil, errors.New("/proc/stat: no time passed")
	}
	cores := float64(after.Cores)
	share := func(a, b uint64) float64 { return cores * float64(a-b) / total }
	u := &MachineUsage{Cores: after.Cores,
		Busy:   share(after.busy(), before.busy()),
		User:   share(after.User+after.Nice, before.User+before.Nice),
		Kernel: share(after.System+after.IRQ+after.SoftIRQ+after.Steal, before.System+before.IRQ+before.SoftIRQ+before.Steal),
		Idle:   share(after.Idle, before.Idle),
		IOWait: share(after.IOWait, before.IOWait),
	}
	if successes > 0 {
		n := float64(successes)
		u.ClientMS = ms(client) / n
		if server != nil {
			busy := time.Duration(after.busy()-before.busy()) * (time.Second / clockTicks)
			other := ms(busy-*server-client) / n
			u.OtherMS = &other
		}
	}
	return u, nil
}

// otherText is the report's words for OtherMS.
func (m *MachineUsage) otherText() string {
	if m.OtherMS == nil {
		return ""
	}
	return fmt.Sprintf(", other processes %.2f ms CPU (machine busy − server − this tool)", *m.OtherMS)
}
