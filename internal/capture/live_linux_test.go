//go:build linux

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wirewatch/wirewatch/internal/testnet"
)

// collector runs one goroutine per source and keeps copies of the frames.
type collector struct {
	mu     sync.Mutex
	frames [][]frameCopy // per source
	wg     sync.WaitGroup
	stop   chan struct{}
	errs   []error
}

func collect(srcs []Source) *collector {
	c := &collector{frames: make([][]frameCopy, len(srcs)), stop: make(chan struct{})}
	for i, src := range srcs {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				select {
				case <-c.stop:
					return
				default:
				}
				f, err := src.Next()
				if errors.Is(err, ErrTimeout) {
					continue
				}
				if err != nil {
					c.mu.Lock()
					c.errs = append(c.errs, err)
					c.mu.Unlock()
					return
				}
				c.mu.Lock()
				c.frames[i] = append(c.frames[i], frameCopy{Frame: f, data: append([]byte(nil), f.Data...)})
				c.mu.Unlock()
			}
		}()
	}
	return c
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, fs := range c.frames {
		n += len(fs)
	}
	return n
}

// wait waits until n frames arrived (or a deadline), then a little more
// to catch extra ones, and stops the goroutines.
func (c *collector) wait(n int) {
	deadline := time.Now().Add(5 * time.Second)
	for c.count() < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(c.stop)
	c.wg.Wait()
}

// icmpEcho parses an Ethernet/IPv4/ICMP frame.
func icmpEcho(f []byte) (src, dst netip.Addr, typ uint8, seq uint16, ok bool) {
	if len(f) < 14+20+8 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || f[23] != 1 {
		return
	}
	ihl := int(f[14]&0xf) * 4
	if len(f) < 14+ihl+8 {
		return
	}
	src, _ = netip.AddrFromSlice(f[26:30])
	dst, _ = netip.AddrFromSlice(f[30:34])
	icmp := f[14+ihl:]
	return src, dst, icmp[0], binary.BigEndian.Uint16(icmp[6:]), true
}

// checkPings asserts that frames are exactly 20 echo requests from the
// namespace and their 20 replies.
func checkPings(t *testing.T, n *testnet.Host, frames []frameCopy) {
	t.Helper()
	req, rep := map[uint16]bool{}, map[uint16]bool{}
	for _, f := range frames {
		src, dst, typ, seq, ok := icmpEcho(f.data)
		switch {
		case !ok:
			t.Errorf("not an ICMP frame: % x", f.data[:min(len(f.data), 40)])
		case typ == 8 && src.String() == n.NSIP && dst.String() == n.HostIP && !req[seq]:
			req[seq] = true
		case typ == 0 && src.String() == n.HostIP && dst.String() == n.NSIP && !rep[seq]:
			rep[seq] = true
		default:
			t.Errorf("unexpected or duplicate ICMP %s > %s type %d seq %d", src, dst, typ, seq)
		}
		if f.WireLen != len(f.data) || f.LinkType != LinkEthernet {
			t.Errorf("frame wire %d len %d link %d", f.WireLen, len(f.data), f.LinkType)
		}
	}
	if len(req) != 20 || len(rep) != 20 || len(frames) != 40 {
		t.Errorf("%d frames: %d echo requests, %d replies; want exactly 20 + 20", len(frames), len(req), len(rep))
	}
}

func ping(t *testing.T, n *testnet.Host) {
	t.Helper()
	n.Exec(t, "ping", "-c", "20", "-i", "0.01", "-W", "1", n.HostIP)
}

// TestLiveVeth proves on a real device (a veth pair to a namespace) that
// with two fanout workers and the kernel filter "icmp", exactly the 20
// echo requests and 20 replies of a ping are captured, none lost (0
// kernel drops), none duplicated, and all on one worker (hash fanout keeps
// a flow, both directions, on one socket); then that "any" (user-space
// filter, device told by ifindex) sees the same 40.
func TestLiveVeth(t *testing.T) {
	n := testnet.New(t)

	srcs, err := OpenLive(LiveConfig{Devices: []string{n.HostIf}, Workers: 2, Filter: "icmp", PollTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 2 {
		t.Fatalf("%d sources for 2 workers", len(srcs))
	}
	itf := srcs[0].Interfaces()
	if len(itf) != 1 || itf[0].Name != n.HostIf || itf[0].LinkType != LinkEthernet ||
		len(itf[0].Addrs) != 1 || itf[0].Addrs[0].String() != n.HostIP+"/30" {
		t.Fatalf("interfaces %+v", itf)
	}
	c := collect(srcs)
	ping(t, n)
	c.wait(40)
	var all []frameCopy
	var st Stats
	busy := 0
	for i, src := range srcs {
		all = append(all, c.frames[i]...)
		if len(c.frames[i]) > 0 {
			busy++
		}
		s := src.Stats()
		st.Packets += s.Packets
		st.KernelDrops += s.KernelDrops
		st.FilteredOut += s.FilteredOut
		if err := src.Close(); err != nil {
			t.Error(err)
		}
	}
	if len(c.errs) > 0 {
		t.Fatal(c.errs)
	}
	checkPings(t, n, all)
	if st.Packets != 40 || st.KernelDrops != 0 || st.FilteredOut != 0 {
		t.Errorf("stats %+v: want 40 packets, no drops, nothing filtered in user space (the kernel filters)", st)
	}
	if busy != 1 {
		t.Errorf("the flow was spread over %d workers, want 1", busy)
	}
	for _, src := range srcs {
		if _, err := src.Next(); err == nil {
			t.Error("Next after Close: no error")
		}
	}

	// "any": every device, user-space filter.
	srcs, err = OpenLive(LiveConfig{Devices: []string{"any"}, Filter: "icmp and host " + n.NSIP, PollTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c = collect(srcs)
	ping(t, n)
	c.wait(40)
	frames := c.frames[0]
	st = srcs[0].Stats()
	ifs := srcs[0].Interfaces()
	srcs[0].Close()
	checkPings(t, n, frames)
	for _, f := range frames {
		if f.Interface >= len(ifs) || ifs[f.Interface].Name != n.HostIf {
			t.Fatalf("frame on interface %d, want %s (%+v)", f.Interface, n.HostIf, ifs)
		}
	}
	if st.Packets != 40 || st.KernelDrops != 0 {
		t.Errorf("any: stats %+v", st)
	}
}

func TestLiveErrors(t *testing.T) {
	_, err := OpenLive(LiveConfig{Devices: []string{"wwnosuchdev0"}})
	if err == nil || !strings.Contains(err.Error(), `"wwnosuchdev0" not found`) {
		t.Fatalf("missing device: %v", err)
	}
	if _, err := OpenLive(LiveConfig{}); err == nil {
		t.Fatal("no devices: no error")
	}
	if _, err := OpenLive(LiveConfig{Devices: []string{"lo"}, Filter: "tcp port"}); err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Fatalf("bad filter: %v", err)
	}
	if _, err := OpenLive(LiveConfig{Devices: []string{"lo"}, BlockSize: 1000}); err == nil {
		t.Fatal("odd block size: no error")
	}
	// The permission message (cannot be provoked as root).
	err = liveError("eth0", LiveConfig{}, fmt.Errorf("socket: %w", unix.EPERM))
	if !strings.Contains(err.Error(), "capture needs root or CAP_NET_RAW; try sudo, or `wirewatch read FILE`") {
		t.Fatalf("EPERM: %v", err)
	}
}

func TestLinkTypeForARPHRD(t *testing.T) {
	for arphrd, want := range map[int]LinkType{
		1: LinkEthernet, 772: LinkEthernet, 65534: LinkRaw, 776: LinkRaw, 768: LinkRaw,
		778: LinkRaw, 823: LinkRaw, 519: LinkRaw, 803: 127, 280: 227,
		32: LinkLinuxARPHRD | 32, 65535: LinkLinuxARPHRD | 0x7fff,
	} {
		if got := linkTypeForARPHRD(arphrd); got != want {
			t.Errorf("ARPHRD %d: %d, want %d", arphrd, got, want)
		}
	}
}

func TestMentionsVLAN(t *testing.T) {
	for expr, want := range map[string]bool{
		"vlan 118": true, "tcp and (VLAN)": true, "not vlan": true,
		"tcp": false, "host vlanhost": false, "ether proto 0x8100": false,
	} {
		if mentionsVLAN(expr) != want {
			t.Errorf("%q: %v", expr, !want)
		}
	}
}

// TestLiveClose: Close from another goroutine while Next blocks, and
// Close while the caller still holds a frame (its bytes stay readable; the
// ring is unmapped at the next Next, which returns io.EOF).
func TestLiveClose(t *testing.T) {
	n := testnet.New(t)
	srcs, err := OpenLive(LiveConfig{Devices: []string{n.HostIf}, PollTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	src := srcs[0]
	done := make(chan error)
	go func() {
		for {
			_, err := src.Next()
			if !errors.Is(err, ErrTimeout) {
				done <- err
				return
			}
		}
	}()
	time.Sleep(150 * time.Millisecond)
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("Next after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Next still blocked after Close")
	}
	src.Stats()

	srcs, err = OpenLive(LiveConfig{Devices: []string{n.HostIf}, PollTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	src = srcs[0]
	go n.Command("ping", "-c", "3", "-i", "0.05", n.HostIP).Run()
	var f Frame
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		if f, err = src.Next(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), f.Data...)
	src.Close()
	for range 3 {
		if string(f.Data) != string(want) { // still mapped
			t.Fatal("frame changed after Close")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := src.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("Next after Close: %v", err)
	}
	if st := src.Stats(); st.Packets == 0 {
		t.Fatalf("stats after close %+v", st)
	}
}
