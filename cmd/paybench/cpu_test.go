package main

import (
	"math"
	"syscall"
	"testing"
	"time"
)

func TestParseProcStatCommWithSpacesAndParens(t *testing.T) {
	// comm "my (weird) proc) x" with a ')' right before the state; fields 14-17 are
	// utime 1234, stime 567, cutime 89, cstime 10.
	line := "4242 (my (weird) proc) x) S 77 4242 4242 0 -1 4194560 100 0 0 0 1234 567 89 10 20 0 3 0 985842 3133440 382 18446744073709551615 0 0 0\n"
	s, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{PPID: 77, UTime: 1234, STime: 567, CUTime: 89, CSTime: 10}
	if s != want {
		t.Fatalf("parseProcStat = %+v, want %+v", s, want)
	}
	if s.CPU() != 1801 || s.ChildrenCPU() != 99 {
		t.Fatalf("CPU = %d, ChildrenCPU = %d, want 1801 and 99", s.CPU(), s.ChildrenCPU())
	}
}

func TestParseProcStatErrors(t *testing.T) {
	for _, line := range []string{
		"",
		"4242 no parens S 1 2 3",
		"4242 (short) S 1 2 3 4 5",
		"4242 (bad) S 1 2 3 4 5 6 7 8 9 10 x 12 13 14",
	} {
		if _, err := parseProcStat(line); err == nil {
			t.Errorf("parseProcStat(%q): no error", line)
		}
	}
}

func TestParseMachineStat(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	m, err := parseMachineStat("cpu  495025 7 198164 1218728 6022 3 16667 23551 100 200")
	if err != nil {
		t.Fatal(err)
	}
	want := machineTimes{Busy: 495025 + 7 + 198164 + 3 + 16667, Idle: 1218728 + 6022, Steal: 23551}
	if m != want {
		t.Fatalf("parseMachineStat = %+v, want %+v", m, want)
	}
	for _, line := range []string{"cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 3", "intr 1 2 3 4 5 6 7 8 9", "cpu 1 2 3 x 5 6 7 8"} {
		if _, err := parseMachineStat(line); err == nil {
			t.Errorf("parseMachineStat(%q): no error", line)
		}
	}
}

func TestWindowAndAccount(t *testing.T) {
	t0 := time.Unix(1000, 0)
	before := cpuSnapshot{At: t0, Postgres: 1000, Payd: 500, Self: 50, Machine: machineTimes{Busy: 10000, Idle: 5000, Steal: 100}}
	// Over 10 s: postgres 8.5 s, payd 4.8 s, load generator 2.2 s; the machine 1900
	// ticks busy, 80 idle, 20 stolen of 2000.
	after := cpuSnapshot{At: t0.Add(10 * time.Second), Postgres: 1850, Payd: 980, Self: 270, Machine: machineTimes{Busy: 11900, Idle: 5080, Steal: 120}}
	w := window(before, after)
	if w.Wall != 10*time.Second || w.Postgres != 850 || w.Payd != 480 || w.Self != 220 || w.Machine != (machineTimes{Busy: 1900, Idle: 80, Steal: 20}) {
		t.Fatalf("window = %+v", w)
	}
	a := newCPUAccount("payments", 10000, w, 2,
		cpuPart{Name: "postgres", CPUS: seconds(w.Postgres)},
		cpuPart{Name: "payd", CPUS: seconds(w.Payd)},
		cpuPart{Name: "load generator", CPUS: seconds(w.Self)})
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	near("postgres ms/op", a.Parts[0].MSPerOp, 0.85)
	near("payd ms/op", a.Parts[1].MSPerOp, 0.48)
	near("load generator ms/op", a.Parts[2].MSPerOp, 0.22)
	near("total ms/op", a.TotalMSPerOp, 1.55)
	near("cores busy", a.MachineCoresBusy, 1.9)
	near("cores stolen", a.MachineCoresStolen, 0.02)
	near("machine ms/op", a.MachineMSPerOp, 1.9)
	near("elsewhere ms/op", a.ElsewhereMSPerOp, 0.35)
	got := a.line("payment", "payment")
	want := "cpu per payment:             postgres 0.85 ms + payd 0.48 ms + load generator 0.22 ms = 1.55 ms (machine 1.90 of 2 cores busy, 1.90 ms per payment, 0.35 ms of it elsewhere; 0.02 cores stolen by the hypervisor)"
	if got != want {
		t.Errorf("line:\n got %q\nwant %q", got, want)
	}
	pg := newCPUAccount("pgbench", 20000, cpuWindow{Machine: machineTimes{Busy: 1980, Idle: 20}}, 2,
		cpuPart{Name: "postgres", CPUS: 7.4}, cpuPart{Name: "pgbench", CPUS: 2})
	got = pg.line("pgbench transaction", "transaction")
	want = "cpu per pgbench transaction: postgres 0.37 ms + pgbench 0.10 ms = 0.47 ms (machine 1.98 of 2 cores busy, 0.99 ms per transaction, 0.52 ms of it elsewhere)"
	if got != want {
		t.Errorf("line:\n got %q\nwant %q", got, want)
	}
	if z := newCPUAccount("none", 0, cpuWindow{}, 2, cpuPart{Name: "x", CPUS: 1}); z.TotalMSPerOp != 0 || z.MachineCoresBusy != 0 {
		t.Errorf("no operations: %+v, want zeros", z)
	}
}

func TestParsePgbench(t *testing.T) {
	out := []byte(`transaction type: <builtin: TPC-B (sort of)>
scaling factor: 10
number of clients: 16
duration: 10 s
number of transactions actually processed: 12345
number of failed transactions: 0 (0.000%)
latency average = 12.9 ms
initial connection time = 20.1 ms
tps = 1234.567890 (without initial connection time)
`)
	res, err := parsePgbench(out, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.TPS != 1234.56789 || res.Transactions != 12345 {
		t.Fatalf("parsePgbench = %+v, want tps 1234.56789 and 12345 transactions", res)
	}
	res, err = parsePgbench([]byte("tps = 100.4 (without initial connection time)\n"), 10)
	if err != nil || res.Transactions != 1004 {
		t.Fatalf("parsePgbench without a count = %+v, %v, want 1004 transactions", res, err)
	}
	if _, err := parsePgbench([]byte("connection refused"), 10); err == nil {
		t.Fatal("parsePgbench: no error without tps")
	}
}

func TestProfileSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{20 * time.Second: 10, 10 * time.Second: 10, 4 * time.Second: 4, 500 * time.Millisecond: 1} {
		if got := profileSeconds(d); got != want {
			t.Errorf("profileSeconds(%s) = %d, want %d", d, got, want)
		}
	}
}

// TestSelfCPU reads this process's real /proc/self/stat around some busy work and checks it
// against getrusage, which counts the same CPU in microseconds.
func TestSelfCPU(t *testing.T) {
	rusage := func() float64 {
		t.Helper()
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	before, err := readProcStat("self")
	if err != nil {
		t.Fatal(err)
	}
	// 150 ms of CPU, not of wall time: on a busy machine 150 ms of wall time may bring this
	// process less than a 10 ms tick.
	const work = 0.150
	x := 0.0
	start, deadline := rusage(), time.Now().Add(time.Minute)
	for rusage()-start < work {
		if time.Now().After(deadline) {
			t.Fatalf("not %v s of CPU within a minute", work)
		}
		for i := range 10000 {
			x += math.Sqrt(float64(i))
		}
	}
	// getrusage just before and just after the read brackets what the read can say.
	low := rusage()
	after, err := readProcStat("self")
	if err != nil {
		t.Fatal(err)
	}
	high := rusage()
	if after.CPU() <= before.CPU() {
		t.Fatalf("CPU did not grow over %v s of work (%v): %d then %d ticks", work, x, before.CPU(), after.CPU())
	}
	// Ticks are 10 ms at 100 Hz; user and system time are each rounded down.
	if stat := seconds(after.CPU()); stat < low-0.05 || stat > high+0.05 {
		t.Fatalf("/proc/self/stat says %.3f s of CPU, getrusage %.3f s to %.3f s around it", stat, low, high)
	}
	if self, err := (cpuMeter{Postmaster: syscall.Getpid(), Payd: syscall.Getpid()}).snapshot(); err != nil {
		t.Fatal(err)
	} else if self.Self <= 0 || self.Machine.Busy <= 0 || self.Machine.Idle < 0 {
		t.Fatalf("snapshot = %+v", self)
	}
}

func TestBoundLine(t *testing.T) {
	pg := cpuAccount{Parts: []cpuPart{{Name: "postgres", MSPerOp: 0.32}, {Name: "pgbench", MSPerOp: 0.08}}, MachineMSPerOp: 0.40}
	pay := cpuAccount{Parts: []cpuPart{{Name: "postgres", MSPerOp: 0.64}, {Name: "payd", MSPerOp: 0.36}}, MachineMSPerOp: 1.20}
	want := "bound:          a payment costs PostgreSQL 2.0 pgbench transactions (0.64 vs 0.32 ms of CPU) " +
		"and the machine 3.0 (1.20 vs 0.40 ms, payd and the load generator included), so ratio <= 0.33 while the cores are saturated"
	if got := boundLine(pg, pay); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if got := boundLine(cpuAccount{}, pay); got != "bound:          not measured" {
		t.Fatalf("without a pgbench account: %q", got)
	}
}
