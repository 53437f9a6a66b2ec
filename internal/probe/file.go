package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirewatch/wirewatch/internal/capture"
	"github.com/wirewatch/wirewatch/internal/decode"
	"github.com/wirewatch/wirewatch/internal/l7"
	"github.com/wirewatch/wirewatch/internal/summary"
)

// Result is what reading a capture file produced.
type Result struct {
	Whole      *summary.Bucket   // the merge of every window: the whole file
	Windows    []*summary.Bucket // closed windows, oldest first (the last Keep)
	Total      uint64            // windows closed in all
	Capture    capture.Stats
	Interfaces []capture.Interface
	Elapsed    time.Duration
	// L7 has each worker's application-layer counters at the end (empty
	// with L7 off).
	L7 []l7.Stats
}

// ifaceNames maps capture interface indexes to device names. The reading
// goroutine refreshes it; workers look names up rarely (once per window and
// interface), so a mutex is cheap here.
type ifaceNames struct {
	mu    sync.RWMutex
	names []string
	known atomic.Int32 // len(names): the per-frame check needs no lock
	src   capture.Source
}

// refresh makes sure interface i has a name; called for every frame, so
// the common case is one atomic load.
func (n *ifaceNames) refresh(i int) {
	if i < int(n.known.Load()) {
		return
	}
	ifs := n.src.Interfaces()
	names := make([]string, len(ifs))
	for j, f := range ifs {
		names[j] = f.Name
		if names[j] == "" {
			names[j] = fmt.Sprintf("if%d", j)
		}
	}
	n.mu.Lock()
	n.names = names
	n.known.Store(int32(len(names)))
	n.mu.Unlock()
}

func (n *ifaceNames) name(i int) string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if i >= 0 && i < len(n.names) {
		return n.names[i]
	}
	return fmt.Sprintf("if%d", i)
}

// Progress is called now and then while a file is read.
type Progress func(frames uint64, elapsed time.Duration)

// ReadFile runs the pipeline over a capture file.
func ReadFile(ctx context.Context, path string, opt Options, progress Progress) (*Result, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	src, err := capture.OpenFile(path, capture.FileOptions{Filter: opt.Filter})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	names := &ifaceNames{src: src}
	hosts := summary.NewHosts(opt.Hosts)
	start := time.Now()
	var windows *Windows
	var whole *summary.Bucket
	var l7Stats []l7.Stats
	onClose := func(b *summary.Bucket) {
		if opt.Report != nil {
			opt.Report.Window(b)
		}
		if whole == nil {
			whole = summary.NewBucket(b.Start, b.End, opt.TopCapacity)
		}
		whole.Merge(b)
	}
	if opt.Workers <= 1 {
		windows = NewWindows(1, opt.Keep, opt.TopCapacity, onClose)
		sh := newShard(0, &opt, hosts, names.name, true, true, windows)
		sh.src = src
		err = readSingle(ctx, src, sh, names, progress, start)
		sh.end()
		if sh.l7 != nil {
			l7Stats = append(l7Stats, sh.l7.Stats())
		}
	} else {
		windows = NewWindows(opt.Workers+1, opt.Keep, opt.TopCapacity, onClose)
		l7Stats, err = readDispatched(ctx, src, &opt, hosts, names, windows, progress, start)
	}
	if err != nil {
		return nil, err
	}
	if whole == nil {
		whole = summary.NewBucket(0, 0, opt.TopCapacity)
	}
	if opt.SummaryMode {
		// One bucket without bounds: report the span of the packets.
		whole.Start, whole.End = whole.FirstTS, whole.LastTS
	}
	return &Result{
		Whole:      whole,
		Windows:    windows.Closed(),
		Total:      windows.Total(),
		Capture:    src.Stats(),
		Interfaces: src.Interfaces(),
		Elapsed:    time.Since(start),
		L7:         l7Stats,
	}, nil
}

const progressEvery = 1 << 16

// guardFault runs read, the loop that reads a capture, and turns a memory
// fault into an error. Large files are memory-mapped (internal/capture),
// and a mapped file that another process truncates faults when the pages
// that are gone are touched: an error to report, not a crash.
func guardFault(read func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if fault, ok := r.(interface{ Addr() uintptr }); ok {
				err = fmt.Errorf("the capture file changed while it was read (truncated by another process?): %v", fault)
				return
			}
			panic(r)
		}
	}()
	return read()
}

func readSingle(ctx context.Context, src capture.Source, sh *shard, names *ifaceNames, progress Progress, start time.Time) error {
	return guardFault(func() error { return readFrames(ctx, src, sh, names, progress, start) })
}

func readFrames(ctx context.Context, src capture.Source, sh *shard, names *ifaceNames, progress Progress, start time.Time) error {
	var n uint64
	for {
		f, err := src.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		names.refresh(f.Interface)
		sh.frame(&f)
		n++
		if n%progressEvery == 0 {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if progress != nil {
				progress(n, time.Since(start))
			}
		}
	}
}

// batch carries frames from the dispatcher to one worker, in capture
// order. Most are raw frames that the worker decodes: the dispatcher only
// peeks at their headers to choose the worker (decode.Peek), so decoding
// runs in parallel. The rest the dispatcher decodes itself (fragments to
// reassemble, tunnels): those go as decoded packets. The bytes are copied
// into arena, because the source reuses its buffer. (Handing frames over
// in place, pinned in a whole-file mapping, was measured: no faster, and
// the mapped pages count in the process's memory.)
type batch struct {
	items  []item
	pkts   []decode.Packet
	arena  []byte
	marker int64 // when non-zero: the dispatcher moved to this time
}

// item is a raw frame (arena[off:off+n]), or the index of a decoded packet
// when pkt ≥ 0. Half the size of a capture.Frame: the dispatcher writes
// one per frame into memory the worker's core last held.
type item struct {
	ts      int64
	off, n  uint32
	wireLen uint32
	iface   uint32
	link    uint16
	pkt     int32
}

// batchSize: large batches keep the wake-ups of workers and dispatcher
// rare (measured: 1024 costs less CPU than 256).
const batchSize = 1024

// arenaSize is a batch's byte buffer: room for batchSize frames of a
// busy link's average size. A batch goes once less than maxFrameCopy is
// left, so that most frames fit without growing the arena (a larger one
// still does: items hold offsets).
const (
	arenaSize    = 256 << 10
	maxFrameCopy = 16 << 10
)

// readDispatched spreads frames over opt.Workers workers by a symmetric
// flow hash, so each flow lives in one worker's flow table; the workers
// decode. Frames that are not complete IP packets are counted by the
// dispatcher's own shard (id 0), which also owns the loss counters of the
// source and of its own decoder.
func readDispatched(ctx context.Context, src capture.Source, opt *Options, hosts *summary.Hosts, names *ifaceNames, windows *Windows, progress Progress, start time.Time) ([]l7.Stats, error) {
	stats := make([]l7.Stats, opt.Workers)
	disp := newShard(0, opt, hosts, names.name, true, false, windows)
	disp.src = src
	n := opt.Workers
	queues := make([]chan *batch, n)
	free := make(chan *batch, n*8)
	var wg sync.WaitGroup
	for i := range n {
		queues[i] = make(chan *batch, 8)
		w := newShard(i+1, opt, hosts, names.name, true, true, windows)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range queues[i] {
				for j := range b.items {
					it := &b.items[j]
					if it.pkt < 0 {
						f := capture.Frame{Data: b.arena[it.off : it.off+it.n : it.off+it.n], Timestamp: it.ts,
							WireLen: int(it.wireLen), LinkType: capture.LinkType(it.link), Interface: int(it.iface)}
						w.frame(&f)
					} else {
						w.decoded(&b.pkts[it.pkt], decode.StatusOK)
					}
				}
				// The marker comes after the frames batched before it.
				if b.marker != 0 {
					w.advance(b.marker)
				}
				b.items, b.pkts, b.arena = b.items[:0], b.pkts[:0], b.arena[:0]
				b.marker = 0
				select {
				case free <- b:
				default:
				}
			}
			w.end()
			if w.l7 != nil {
				stats[i] = w.l7.Stats()
			}
		}()
	}
	getBatch := func() *batch {
		select {
		case b := <-free:
			return b
		default:
			return &batch{items: make([]item, 0, batchSize), arena: make([]byte, 0, arenaSize)}
		}
	}
	pending := make([]*batch, n)
	for i := range pending {
		pending[i] = getBatch()
	}
	send := func(i int) {
		queues[i] <- pending[i]
		pending[i] = getBatch()
	}
	flushAll := func() {
		for i, b := range pending {
			if len(b.items) > 0 || b.marker != 0 {
				send(i)
			}
		}
	}
	var err error
	var frames uint64
	var pkt decode.Packet
	var peek decode.FlowPeek
	err = guardFault(func() error {
		var err error
		for {
			f, e := src.Next()
			if e != nil {
				if !errors.Is(e, io.EOF) {
					err = e
				}
				return err
			}
			names.refresh(f.Interface)
			prevEnd := disp.winEnd
			w := -1
			if disp.dec.Peek(uint16(f.LinkType), f.Data, &peek) {
				disp.advance(f.Timestamp)
				w = pick(peekHash(&peek), n)
				b := pending[w]
				o := len(b.arena)
				b.arena = append(b.arena, f.Data...)
				b.items = append(b.items, item{ts: f.Timestamp, off: uint32(o), n: uint32(len(f.Data)),
					wireLen: uint32(f.WireLen), iface: uint32(f.Interface), link: uint16(f.LinkType), pkt: -1})
			} else {
				st := disp.dec.Decode(uint16(f.LinkType), f.Data, f.WireLen, f.Timestamp, &pkt)
				pkt.Interface = f.Interface
				if st != decode.StatusOK {
					disp.decoded(&pkt, st)
				} else {
					disp.advance(pkt.Timestamp)
					if !opt.ignored(&pkt) {
						w = pick(flowHash(&pkt), n)
						b := pending[w]
						b.items = append(b.items, item{pkt: int32(len(b.pkts))})
						b.pkts = append(b.pkts, pkt)
						cp := &b.pkts[len(b.pkts)-1]
						o := len(b.arena)
						b.arena = append(b.arena, pkt.Payload...)
						cp.Payload = b.arena[o:len(b.arena):len(b.arena)]
					}
				}
			}
			if w >= 0 {
				if b := pending[w]; len(b.items) >= batchSize || len(b.arena) > arenaSize-maxFrameCopy {
					send(w)
				}
			}
			if disp.started && disp.winEnd != prevEnd && prevEnd != 0 {
				// The dispatcher entered a new window: tell every worker, so
				// that workers without traffic close the old one too.
				for i := range pending {
					pending[i].marker = f.Timestamp
				}
				flushAll()
			}
			frames++
			if frames%progressEvery == 0 {
				if ctx.Err() != nil {
					err = ctx.Err()
					return err
				}
				if progress != nil {
					progress(frames, time.Since(start))
				}
			}
		}
	})
	flushAll()
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	disp.end()
	if opt.NoL7 {
		stats = nil
	}
	return stats, err
}

// pick maps a flow hash to one of n workers without a division.
func pick(h uint64, n int) int { return int((h >> 32) * uint64(n) >> 32) }

// flowHash is symmetric in the two endpoints, so both directions of a flow
// go to the same worker. The dispatcher computes it for every packet, so
// the endpoints are folded with a multiply each and only their sum (which
// does not care about the order) goes through the finalizer.
func flowHash(p *decode.Packet) uint64 {
	return mix64(endpointHash(decode.AddrWords(p.SrcIP.As16()), p.SrcPort) + endpointHash(decode.AddrWords(p.DstIP.As16()), p.DstPort) + uint64(p.Proto))
}

// peekHash is flowHash of the packet that Decode would make of the peeked
// frame.
func peekHash(f *decode.FlowPeek) uint64 {
	return mix64(endpointHash(f.Src, f.SrcPort) + endpointHash(f.Dst, f.DstPort) + uint64(f.Proto))
}

func endpointHash(ip [2]uint64, port uint16) uint64 {
	return (ip[0]^uint64(port))*0x9e3779b97f4a7c15 ^ ip[1]*0xc2b2ae3d27d4eb4f
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
