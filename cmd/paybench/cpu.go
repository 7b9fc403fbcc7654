package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc (clock ticks per second): USER_HZ, which
// Linux fixes at 100 for userspace on every architecture Go runs on (TestSelfCPU checks it
// against getrusage).
const userHZ = 100

// procStat is what paybench reads of a /proc/PID/stat line; times are in clock ticks.
type procStat struct {
	PPID   int
	UTime  int64 // user time of the process (all its threads)
	STime  int64 // system time
	CUTime int64 // user time of its children that exited and were waited for
	CSTime int64 // their system time
}

// CPU is the process's own user and system time, in ticks.
func (s procStat) CPU() int64 { return s.UTime + s.STime }

// ChildrenCPU is the user and system time of its reaped children, in ticks.
func (s procStat) ChildrenCPU() int64 { return s.CUTime + s.CSTime }

// parseProcStat parses a /proc/PID/stat line. The second field, the command name in
// parentheses, may itself hold spaces and parentheses, so the fields are split after the
// line's last ')'.
func parseProcStat(line string) (procStat, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("proc stat %.40q: no command name", line)
	}
	// f[0] is field 3 (state) of proc(5), so field n is f[n-3].
	f := strings.Fields(line[i+1:])
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("proc stat %.40q: %d fields after the command name, want at least 15", line, len(f))
	}
	var s procStat
	var err error
	if s.PPID, err = strconv.Atoi(f[4-3]); err != nil {
		return procStat{}, fmt.Errorf("proc stat ppid: %w", err)
	}
	for _, v := range []struct {
		field int
		dst   *int64
	}{{14, &s.UTime}, {15, &s.STime}, {16, &s.CUTime}, {17, &s.CSTime}} {
		if *v.dst, err = strconv.ParseInt(f[v.field-3], 10, 64); err != nil {
			return procStat{}, fmt.Errorf("proc stat field %d: %w", v.field, err)
		}
	}
	return s, nil
}

// readProcStat reads /proc/PID/stat ("self" for this process).
func readProcStat(pid string) (procStat, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procStat{}, fmt.Errorf("process %s: %w", pid, err)
	}
	return parseProcStat(string(b))
}

// treeCPU returns, in ticks, the CPU time of process pid (a PostgreSQL postmaster), of its
// live children and of its children that exited and were reaped (its cutime and cstime,
// which is where the backends of closed connections end up). A child that exits between
// the reading of the postmaster and its own reading is missed in this snapshot: a few
// ticks at most.
func treeCPU(pid int) (int64, error) {
	root, err := readProcStat(strconv.Itoa(pid))
	if err != nil {
		return 0, err
	}
	total := root.CPU() + root.ChildrenCPU()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("children of %d: %w", pid, err)
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		s, err := readProcStat(e.Name())
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue // exited meanwhile
		} else if err != nil {
			return 0, err
		}
		if s.PPID == pid {
			total += s.CPU() + s.ChildrenCPU()
		}
	}
	return total, nil
}

// machineTimes are the machine's CPU times from /proc/stat's first line, in ticks.
type machineTimes struct {
	Busy  int64 // user, nice, system, irq, softirq
	Idle  int64 // idle, iowait
	Steal int64 // taken by the hypervisor for other guests
}

// parseMachineStat parses /proc/stat's first line ("cpu  user nice system idle iowait irq
// softirq steal guest guest_nice"). guest and guest_nice are already in user and nice.
func parseMachineStat(line string) (machineTimes, error) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return machineTimes{}, fmt.Errorf("/proc/stat: first line %.60q is not the cpu line", line)
	}
	var v [8]int64
	for i := range v {
		n, err := strconv.ParseInt(f[1+i], 10, 64)
		if err != nil {
			return machineTimes{}, fmt.Errorf("/proc/stat: cpu field %d: %w", i+1, err)
		}
		v[i] = n
	}
	user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	return machineTimes{Busy: user + nice + system + irq + softirq, Idle: idle + iowait, Steal: steal}, nil
}

// readMachineStat reads the machine's CPU times.
func readMachineStat() (machineTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineTimes{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseMachineStat(line)
}

// cpuSnapshot is the CPU time, in ticks, spent so far by the platform's components, this
// process (the load generator) and the machine.
type cpuSnapshot struct {
	At       time.Time
	Postgres int64
	Payd     int64
	Self     int64
	Machine  machineTimes
}

// cpuMeter takes snapshots of a running platform.
type cpuMeter struct {
	Postmaster int // PostgreSQL's postmaster
	Payd       int // the payd node
}

// snapshot reads the CPU times now.
func (m cpuMeter) snapshot() (cpuSnapshot, error) {
	s := cpuSnapshot{At: time.Now()}
	var err error
	if s.Postgres, err = treeCPU(m.Postmaster); err != nil {
		return s, fmt.Errorf("cpu of postgres: %w", err)
	}
	payd, err := readProcStat(strconv.Itoa(m.Payd))
	if err != nil {
		return s, fmt.Errorf("cpu of payd: %w", err)
	}
	self, err := readProcStat("self")
	if err != nil {
		return s, fmt.Errorf("cpu of paybench: %w", err)
	}
	s.Payd, s.Self = payd.CPU(), self.CPU()
	if s.Machine, err = readMachineStat(); err != nil {
		return s, fmt.Errorf("cpu of the machine: %w", err)
	}
	return s, nil
}

// measure runs f between two snapshots and returns what was spent meanwhile.
func (m cpuMeter) measure(f func() error) (cpuWindow, error) {
	before, err := m.snapshot()
	if err != nil {
		return cpuWindow{}, err
	}
	if err := f(); err != nil {
		return cpuWindow{}, err
	}
	after, err := m.snapshot()
	if err != nil {
		return cpuWindow{}, err
	}
	return window(before, after), nil
}

// cpuWindow is the CPU time (in ticks) spent between two snapshots.
type cpuWindow struct {
	Wall     time.Duration
	Postgres int64
	Payd     int64
	Self     int64
	Machine  machineTimes
}

// window is what was spent from before to after.
func window(before, after cpuSnapshot) cpuWindow {
	return cpuWindow{
		Wall:     after.At.Sub(before.At),
		Postgres: after.Postgres - before.Postgres,
		Payd:     after.Payd - before.Payd,
		Self:     after.Self - before.Self,
		Machine: machineTimes{
			Busy:  after.Machine.Busy - before.Machine.Busy,
			Idle:  after.Machine.Idle - before.Machine.Idle,
			Steal: after.Machine.Steal - before.Machine.Steal,
		},
	}
}

// seconds converts ticks to seconds.
func seconds(ticks int64) float64 { return float64(ticks) / float64(userHZ) }

// cpuPart is one component's CPU time in a window.
type cpuPart struct {
	Name    string  `json:"name"`
	CPUS    float64 `json:"cpu_s"`
	MSPerOp float64 `json:"ms_per_op"`
}

// cpuAccount says where the CPU went in one measured window, per operation completed.
type cpuAccount struct {
	Window       string    `json:"window"`
	Ops          int64     `json:"ops"`
	WallS        float64   `json:"wall_s"`
	Parts        []cpuPart `json:"parts"`
	TotalMSPerOp float64   `json:"total_ms_per_op"`
	// Cores is runtime.NumCPU; MachineCoresBusy how many of them were busy on average
	// (anything on the machine), MachineCoresStolen how many the hypervisor took.
	Cores              int     `json:"cores"`
	MachineCoresBusy   float64 `json:"machine_cores_busy"`
	MachineCoresStolen float64 `json:"machine_cores_stolen"`
	MachineMSPerOp     float64 `json:"machine_ms_per_op"`
	// ElsewhereMSPerOp is the machine's busy time the parts do not account for: other
	// processes, kernel threads (this kernel may also charge interrupts to the parts).
	ElsewhereMSPerOp float64 `json:"elsewhere_ms_per_op"`
}

// newCPUAccount divides the CPU of parts (CPUS set) and of the machine in w by ops.
func newCPUAccount(name string, ops int64, w cpuWindow, cores int, parts ...cpuPart) cpuAccount {
	a := cpuAccount{Window: name, Ops: ops, WallS: w.Wall.Seconds(), Cores: cores}
	perOp := func(s float64) float64 {
		if ops <= 0 {
			return 0
		}
		return s * 1000 / float64(ops)
	}
	for _, p := range parts {
		p.MSPerOp = perOp(p.CPUS)
		a.TotalMSPerOp += p.MSPerOp
		a.Parts = append(a.Parts, p)
	}
	if total := w.Machine.Busy + w.Machine.Idle + w.Machine.Steal; total > 0 {
		a.MachineCoresBusy = float64(w.Machine.Busy) / float64(total) * float64(cores)
		a.MachineCoresStolen = float64(w.Machine.Steal) / float64(total) * float64(cores)
	}
	a.MachineMSPerOp = perOp(seconds(w.Machine.Busy))
	a.ElsewhereMSPerOp = a.MachineMSPerOp - a.TotalMSPerOp
	return a
}

// line renders the account, e.g. "cpu per payment: postgres 0.85 ms + payd 0.48 ms = 1.33
// ms (machine 1.98 of 2 cores busy, 1.40 ms per payment, 0.07 ms of it elsewhere)".
func (a cpuAccount) line(label, op string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-28s ", "cpu per "+label+":")
	for i, p := range a.Parts {
		if i > 0 {
			b.WriteString(" + ")
		}
		fmt.Fprintf(&b, "%s %.2f ms", p.Name, p.MSPerOp)
	}
	fmt.Fprintf(&b, " = %.2f ms (machine %.2f of %d cores busy, %.2f ms per %s, %.2f ms of it elsewhere",
		a.TotalMSPerOp, a.MachineCoresBusy, a.Cores, a.MachineMSPerOp, op, a.ElsewhereMSPerOp)
	if a.MachineCoresStolen >= 0.005 {
		fmt.Fprintf(&b, "; %.2f cores stolen by the hypervisor", a.MachineCoresStolen)
	}
	b.WriteString(")")
	return b.String()
}

// part is the named part's CPU per operation (0 if there is none).
func (a cpuAccount) part(name string) float64 {
	for _, p := range a.Parts {
		if p.Name == name {
			return p.MSPerOp
		}
	}
	return 0
}

// boundLine says what bounds the ratio on a machine whose cores are all busy in both
// windows: what a payment costs PostgreSQL, counted in pgbench transactions, and what it
// costs the whole machine, whose inverse is the ratio's ceiling.
func boundLine(pgbench, payments cpuAccount) string {
	db, machine := pgbench.part("postgres"), pgbench.MachineMSPerOp
	if db <= 0 || machine <= 0 || payments.MachineMSPerOp <= 0 {
		return "bound:          not measured"
	}
	cost := payments.MachineMSPerOp / machine
	return fmt.Sprintf("bound:          a payment costs PostgreSQL %.1f pgbench transactions (%.2f vs %.2f ms of CPU) "+
		"and the machine %.1f (%.2f vs %.2f ms, payd and the load generator included), so ratio <= %.2f while the cores are saturated",
		payments.part("postgres")/db, payments.part("postgres"), db, cost, payments.MachineMSPerOp, machine, 1/cost)
}
