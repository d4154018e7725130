package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cpuTicks is a reading of where the machine's CPU time went so far, in
// clock ticks (/proc): latch's process, the database server's processes
// (every process named postgres; none for SQLite, which runs inside
// latch), the idle time (idle and iowait: nothing to run), and all of it.
type cpuTicks struct{ latch, db, idle, total int64 }

// cpuShare is the share of all cores each part took between two readings.
type cpuShare struct{ latch, db, idle float64 }

// readCPU reads the ticks of latch (pid) and of the database server. ok
// is false where /proc is not there.
func readCPU(pid int) (c cpuTicks, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c, false
	}
	if c.idle, c.total, ok = parseProcStat(string(b)); !ok {
		return c, false
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		_, c.latch, _ = parsePidStat(string(b))
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue // it ended meanwhile
		}
		if comm, ticks, ok := parsePidStat(string(b)); ok && comm == "postgres" {
			c.db += ticks
		}
	}
	return c, true
}

// since is the share of all cores each part took from earlier to c. A
// database process that ended between the two readings is not counted;
// latch's connections stay open for the run.
func (c cpuTicks) since(earlier cpuTicks) cpuShare {
	total := float64(c.total - earlier.total)
	if total <= 0 {
		return cpuShare{}
	}
	return cpuShare{
		latch: float64(c.latch-earlier.latch) / total,
		db:    float64(max(c.db-earlier.db, 0)) / total,
		idle:  float64(c.idle-earlier.idle) / total,
	}
}

// parseProcStat reads the machine's line of /proc/stat ("cpu  user nice
// system idle iowait irq softirq steal ..."): idle+iowait and the sum of
// every field.
func parseProcStat(s string) (idle, total int64, ok bool) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, false
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		// guest and guest_nice (9th and 10th) are within user and nice.
		if i < 8 {
			total += n
		}
		if i == 3 || i == 4 {
			idle += n
		}
	}
	return idle, total, true
}

// parsePidStat reads a /proc/PID/stat line: the command name and the
// process's user+system ticks. The name is between the first "(" and the
// last ")" and may hold spaces and parentheses itself.
func parsePidStat(s string) (comm string, ticks int64, ok bool) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, false
	}
	f := strings.Fields(s[end+1:])
	// After the name: state(3) ... utime(14) stime(15), numbered from pid.
	if len(f) < 13 {
		return "", 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, false
	}
	return s[open+1 : end], ut + st, true
}

// cpuCell formats the medians of a scenario's CPU shares on one store.
func cpuCell(shares []cpuShare) string {
	if len(shares) == 0 {
		return "-"
	}
	var l, d, i []float64
	for _, s := range shares {
		l, d, i = append(l, s.latch), append(d, s.db), append(i, s.idle)
	}
	pct := func(v []float64) string { return strconv.FormatFloat(100*median(v), 'f', 0, 64) + "%" }
	return pct(l) + " / " + pct(d) + " / " + pct(i)
}
