package main

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Garbage collector settings.
//
// The probe's live heap is small and bounded by its own caps (flow table,
// reassembly and parser budgets), and it allocates little per packet, but
// with Go's default (GOGC=100: collect when the heap doubles) a small heap
// is collected very often: about a tenth of the CPU of `read` went to
// collections that found little. A higher GOGC trades memory for CPU; a
// soft memory limit takes the trade back when the heap grows large (a
// flood of flows), so the probe never takes more of the node because of
// this setting. GOGC and GOMEMLIMIT in the environment win.
const (
	gcPercent      = 400
	maxMemoryLimit = 2 << 30
)

func tuneGC() {
	if os.Getenv("GOGC") != "" {
		return
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit())
	}
	debug.SetGCPercent(gcPercent)
}

// memoryLimit is the soft limit: 2 GiB, or less on a small machine or in a
// container with a memory limit (a quarter of the RAM, three quarters of
// the cgroup's limit).
func memoryLimit() int64 {
	limit := int64(maxMemoryLimit)
	if ram := memTotal(); ram > 0 {
		limit = min(limit, ram/4)
	}
	if cg := cgroupLimit(); cg > 0 {
		limit = min(limit, cg/4*3)
	}
	return max(limit, 64<<20)
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// cgroupLimit reads the memory limit of the process's cgroup (v2, then
// v1); 0 when there is none.
func cgroupLimit() int64 {
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && v > 0 && v < 1<<60 {
			return v
		}
	}
	return 0
}
