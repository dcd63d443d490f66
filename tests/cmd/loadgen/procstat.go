package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux that the
// platform runs on (it is fixed by the kernel's ABI, not by HZ).
const clockTicks = 100

// usage is a process tree's CPU time (seconds, user+system, its live descendants and the
// children it has waited for included) and resident memory (bytes).
type usage struct {
	cpu float64
	rss int64
}

// watched is a process tree named for the report: the platform, PostgreSQL's postmaster,
// Redis, and loadgen itself ("self").
type watched struct {
	name string
	pid  int
}

// parseWatch reads "-cpu platform=1234,postgres=5678".
func parseWatch(s string) ([]watched, error) {
	out := []watched{{name: "loadgen", pid: os.Getpid()}}
	if s == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		name, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		pid, err := strconv.Atoi(v)
		if !ok || name == "" || err != nil || pid < 1 {
			return nil, fmt.Errorf("-cpu %q: %q is not name=pid", s, part)
		}
		if _, err := os.Stat(filepath.Join("/proc", v)); err != nil {
			return nil, fmt.Errorf("-cpu: no process %d (%s)", pid, name)
		}
		out = append(out, watched{name: name, pid: pid})
	}
	return out, nil
}

// procStat is one process's parent, CPU ticks (utime+stime+cutime+cstime) and RSS pages.
type procStat struct {
	ppid  int
	ticks int64
	rss   int64
}

// readStat parses /proc/<pid>/stat (the command name may hold spaces and parentheses: the
// fields start after the last ')').
func readStat(pid int) (procStat, error) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command field", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): ppid is field 4, utime..cstime 14-17, rss 24.
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	num := func(k int) int64 { n, _ := strconv.ParseInt(f[k-3], 10, 64); return n }
	return procStat{ppid: int(num(4)), ticks: num(14) + num(15) + num(16) + num(17), rss: num(24)}, nil
}

// treeUsage sums the usage of each watched process and its descendants, one pass over /proc.
func treeUsage(ws []watched) map[string]usage {
	stats := map[int]procStat{}
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		stats[pid] = st
		children[st.ppid] = append(children[st.ppid], pid)
	}
	page := int64(os.Getpagesize())
	out := map[string]usage{}
	for _, w := range ws {
		var u usage
		stack := []int{w.pid}
		for len(stack) > 0 {
			pid := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			st, ok := stats[pid]
			if !ok {
				continue
			}
			u.cpu += float64(st.ticks) / clockTicks
			u.rss += st.rss * page
			stack = append(stack, children[pid]...)
		}
		out[w.name] = u
	}
	return out
}
