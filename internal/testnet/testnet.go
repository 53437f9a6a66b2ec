// Package testnet builds throw-away test hosts for live tests: a network
// namespace joined to this machine by a veth pair, with addresses from
// 10.250.0.0/15 that exist only inside the test. It needs root; NeedRoot
// skips a test without it, or fails it when CI is set (CI must run them).
package testnet

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// Host is a namespace with one veth end; the other end stays here.
type Host struct {
	NS     string // namespace name
	HostIf string // veth end on this machine
	NSIf   string // veth end inside the namespace
	HostIP string // address of HostIf
	NSIP   string // address of NSIf
}

var seq atomic.Int32

// NeedRoot skips the test without root, unless CI is set.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this live test needs root, and CI is set")
		}
		t.Skip("this live test needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("this live test needs iproute2, and CI is set")
		}
		t.Skip("this live test needs iproute2 (ip)")
	}
}

// Run runs a command and fails the test when it fails.
func Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// New creates a namespace and veth pair, removed when the test ends. IPv6
// is off on the pair (router solicitations and MLD reports would add
// frames the test did not send) and segmentation offloads are off, so that
// captures hold the frames the wire carries.
func New(t testing.TB) *Host {
	t.Helper()
	NeedRoot(t)
	pid := os.Getpid() % 100000
	n := int(seq.Add(1))
	// 10.250.0.0/15 split in /30s by process and host number.
	block := (pid*16 + n) % 32768
	base := fmt.Sprintf("10.%d.%d.%d", 250+block/16384, block/64%256, block%64*4)
	prefix := base[:strings.LastIndexByte(base, '.')+1]
	last, _ := strconv.Atoi(base[strings.LastIndexByte(base, '.')+1:])
	h := &Host{
		NS:     fmt.Sprintf("wwtest-%d-%d", pid, n),
		HostIf: fmt.Sprintf("ww%dh%d", pid, n),
		NSIf:   fmt.Sprintf("ww%dn%d", pid, n),
		HostIP: prefix + strconv.Itoa(last+1),
		NSIP:   prefix + strconv.Itoa(last+2),
	}
	cleanup := func() {
		exec.Command("ip", "netns", "del", h.NS).Run()
		exec.Command("ip", "link", "del", h.HostIf).Run()
	}
	cleanup()
	t.Cleanup(cleanup)
	Run(t, "ip", "netns", "add", h.NS)
	Run(t, "ip", "link", "add", h.HostIf, "type", "veth", "peer", "name", h.NSIf)
	Run(t, "ip", "link", "set", h.NSIf, "netns", h.NS)
	exec.Command("sysctl", "-qw", "net.ipv6.conf."+h.HostIf+".disable_ipv6=1").Run()
	h.Command("sysctl", "-qw", "net.ipv6.conf."+h.NSIf+".disable_ipv6=1").Run()
	Run(t, "ip", "addr", "add", h.HostIP+"/30", "dev", h.HostIf)
	h.Exec(t, "ip", "addr", "add", h.NSIP+"/30", "dev", h.NSIf)
	Run(t, "ip", "link", "set", h.HostIf, "up")
	h.Exec(t, "ip", "link", "set", h.NSIf, "up")
	h.Exec(t, "ip", "link", "set", "lo", "up")
	exec.Command("ethtool", "-K", h.HostIf, "tso", "off", "gso", "off", "gro", "off").Run()
	h.Command("ethtool", "-K", h.NSIf, "tso", "off", "gso", "off", "gro", "off").Run()
	return h
}

// Command returns a command that runs inside the namespace.
func (h *Host) Command(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS}, args...)...)
}

// Exec runs a command inside the namespace and fails the test when it fails.
func (h *Host) Exec(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, append([]string{"ip", "netns", "exec", h.NS}, args...)...)
}

// Counters returns the kernel's frame and byte counts (received plus sent)
// of the host-side veth end: what crossed the wire.
func (h *Host) Counters(t testing.TB) (packets, bytes uint64) {
	t.Helper()
	read := func(name string) uint64 {
		b, err := os.ReadFile("/sys/class/net/" + h.HostIf + "/statistics/" + name)
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return read("rx_packets") + read("tx_packets"), read("rx_bytes") + read("tx_bytes")
}

// Link joins two test hosts with a veth pair of their own (a /30 from
// 10.252.0.0/14), as if they shared a network segment; traffic between
// aIP and bIP crosses only this pair. Removed with the namespaces.
func Link(t testing.TB, a, b *Host) (aIf, bIf, aIP, bIP string) {
	t.Helper()
	pid := os.Getpid() % 100000
	n := int(seq.Add(1))
	block := (pid*16 + n) % 65536
	prefix := fmt.Sprintf("10.%d.%d.", 252+block/16384, block/64%256)
	last := block % 64 * 4
	aIf, bIf = fmt.Sprintf("ww%dl%da", pid, n), fmt.Sprintf("ww%dl%db", pid, n)
	aIP, bIP = prefix+strconv.Itoa(last+1), prefix+strconv.Itoa(last+2)
	Run(t, "ip", "link", "add", aIf, "netns", a.NS, "type", "veth", "peer", "name", bIf, "netns", b.NS)
	for _, side := range []struct {
		h      *Host
		ifc, a string
	}{{a, aIf, aIP}, {b, bIf, bIP}} {
		side.h.Command("sysctl", "-qw", "net.ipv6.conf."+side.ifc+".disable_ipv6=1").Run()
		side.h.Exec(t, "ip", "addr", "add", side.a+"/30", "dev", side.ifc)
		side.h.Exec(t, "ip", "link", "set", side.ifc, "up")
		side.h.Command("ethtool", "-K", side.ifc, "tso", "off", "gso", "off", "gro", "off").Run()
	}
	return aIf, bIf, aIP, bIP
}
