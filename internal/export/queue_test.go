package export

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/center/ingest/ingesttest"
	"github.com/wirewatch/wirewatch/internal/record"
)

// freezableDisk mounts a small ext4 file system (a loop device over a
// file in the test's temporary directory) and returns its mount point and
// functions that freeze and thaw it (fsfreeze): while it is frozen, every
// write(2) to it blocks in the kernel, as on a disk that stopped
// answering. It needs root (CI runs the tests as root).
func freezableDisk(t *testing.T) (dir string, freeze, thaw func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts and freezes a loop file system: run it as root")
	}
	tmp := t.TempDir()
	img, dir := filepath.Join(tmp, "disk.img"), filepath.Join(tmp, "mnt")
	run := func(name string, args ...string) error {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Logf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
		}
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(32 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if run("mkfs.ext4", "-q", "-F", img) != nil || run("mount", "-o", "loop", img, dir) != nil {
		t.Fatal("cannot make and mount a loop ext4 file system (mkfs.ext4, mount -o loop)")
	}
	var mu sync.Mutex
	frozen := false
	thaw = func() {
		mu.Lock()
		defer mu.Unlock()
		if frozen && run("fsfreeze", "-u", dir) == nil {
			frozen = false
		}
	}
	freeze = func() {
		mu.Lock()
		defer mu.Unlock()
		if run("fsfreeze", "-f", dir) != nil {
			t.Fatal("fsfreeze -f failed")
		}
		frozen = true
	}
	t.Cleanup(func() {
		thaw()
		_ = run("umount", dir)
	})
	return dir, freeze, thaw
}

// exporterOn makes an exporter whose spool is on disk (small enough for
// freezableDisk's file system) and whose batches are cut by size only.
func exporterOn(t *testing.T, center, disk string, perBatch int, wait bool) *Exporter {
	return exporter(t, center, func(cfg *Config) {
		cfg.Spool.Dir = filepath.Join(disk, "spool")
		cfg.Spool.SegmentBytes = 1 << 20
		cfg.Spool.MaxBytes = 8 << 20
		cfg.Spool.MaxRecord = 1 << 20
		cfg.MaxBatchRecords = perBatch
		cfg.FlushInterval = time.Hour
		cfg.WaitWhenFull = wait
	})
}

// TestProducersNeverWaitForTheDisk: the spool's disk stops answering
// (frozen), so the encoder blocks in its write. Producers keep adding
// records one by one: every call returns while the encoder is still
// blocked, the batches cut beyond the queue are dropped and counted, and
// once the disk answers again the center gets every other record and the
// count, which add up to what was added.
func TestProducersNeverWaitForTheDisk(t *testing.T) {
	disk, freeze, thaw := freezableDisk(t)
	store := &ingesttest.Store{}
	c := center(t, "127.0.0.1:0", store.Handle, nil)
	const perBatch, producers, each = 10, 4, 250
	e := exporterOn(t, c.Addr().String(), disk, perBatch, false)
	t.Cleanup(thaw) // before the exporter's Stop, which writes
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	freeze()
	// The first batch takes the encoder into the frozen disk: once it has
	// left the queue, the encoder is blocked and takes no other.
	first := flows(0, perBatch)
	for i := range first {
		e.AddFlow(&first[i])
	}
	waitFor(t, 10*time.Second, "the encoder to take the first batch", func() bool { return len(e.queue) == 0 })

	// No deadline: a producer that waits for the disk never returns, and
	// the test hangs until the go test timeout says where.
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fs := flows(perBatch+p*each, each)
			for i := range fs {
				e.AddFlow(&fs[i])
			}
		}()
	}
	wg.Wait()
	st := e.Stats()
	if st.Spool.Appended.Records != 0 || st.Batches != 0 {
		t.Fatalf("the spool took %d records while its disk was frozen: the test did not block the encoder", st.Spool.Appended.Records)
	}
	full := st.Loss[LossQueueFull]
	total := perBatch + producers*each
	// One batch is in the encoder, queueLen wait for it: every other one
	// was dropped.
	if want := uint64(total - (queueLen+1)*perBatch); full != want {
		t.Errorf("%d records counted as dropped, want %d", full, want)
	}

	thaw()
	// Stop cuts a last, empty batch, which carries the counters.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	bs := store.Batches()
	delivered := len(numbers(bs))
	if uint64(delivered)+full != uint64(total) {
		t.Errorf("%d records delivered + %d counted as dropped = %d, want the %d added", delivered, full, uint64(delivered)+full, total)
	}
	if got := bs[len(bs)-1].Loss[LossQueueFull]; got != full {
		t.Errorf("the center was told %d records were dropped, want %d", got, full)
	}
	seen := map[int]bool{}
	for _, n := range numbers(bs) {
		if seen[n] {
			t.Fatalf("record %d delivered twice", n)
		}
		seen[n] = true
	}
}

// The period a probe reports is its windows' length unless its ProbeInfo
// says it; a window longer than the wire allows (a read's single summary
// window) does not count.
func TestPeriodFromWindows(t *testing.T) {
	store := &ingesttest.Store{}
	c := center(t, "127.0.0.1:0", store.Handle, nil)
	e := exporter(t, c.Addr().String(), nil)
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_700_000_000, 0)
	e.AddWindow(record.Window{Probe: probeID, Start: at, End: at.Add(30 * time.Second)})
	waitFor(t, 5*time.Second, "the window", func() bool { return len(store.Batches()) > 0 })
	e.AddWindow(record.Window{Probe: probeID, Start: at, End: at.Add(48 * time.Hour)})
	waitFor(t, 5*time.Second, "the second window", func() bool { return len(store.Batches()) > 1 })
	for i, b := range store.Batches() {
		if b.Probe.Period != 30*time.Second {
			t.Errorf("batch %d: period %v, want 30s", i, b.Probe.Period)
		}
	}
}

// Every batch carries the spool's ID, and a wiped spool directory gets a
// new one: the center then keeps the new batches (numbered from 1 again)
// apart from the old ones instead of taking them for duplicates.
func TestWipedSpoolIsANewSequence(t *testing.T) {
	store := &ingesttest.Store{}
	c := center(t, "127.0.0.1:0", store.Handle, nil)
	dir := t.TempDir()
	run := func(first int) {
		e := exporter(t, c.Addr().String(), func(cfg *Config) { cfg.Spool.Dir = dir })
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		e.AddFlows(flows(first, 3))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	run(0)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	run(3)
	bs := store.Batches()
	if got := numbers(bs); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5}) || store.Duplicates() != 0 {
		t.Errorf("stored records %v, %d duplicates; want 0..5 and none", got, store.Duplicates())
	}
	seqs := map[string][]uint64{} // by spool ID, in store order
	for _, b := range bs {
		seqs[b.SpoolID] = append(seqs[b.SpoolID], b.Seq)
	}
	if len(seqs) != 2 {
		t.Fatalf("batches of %d spools, want 2: %v", len(seqs), seqs)
	}
	for id, s := range seqs {
		if len(id) != 32 || s[0] != 1 {
			t.Errorf("spool %q: seqs %v; want a 32-digit ID, numbered from 1", id, s)
		}
	}
}

// TestWaitWhenFull: a capture file's reader (WaitWhenFull) waits for a
// stuck disk instead of dropping, and once the disk answers every record
// arrives.
func TestWaitWhenFull(t *testing.T) {
	disk, freeze, thaw := freezableDisk(t)
	store := &ingesttest.Store{}
	c := center(t, "127.0.0.1:0", store.Handle, nil)
	const perBatch, total = 10, 200
	e := exporterOn(t, c.Addr().String(), disk, perBatch, true)
	t.Cleanup(thaw) // before the exporter's Stop, which writes
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	freeze()
	added := make(chan struct{})
	go func() {
		defer close(added)
		fs := flows(0, total)
		for i := range fs {
			e.AddFlow(&fs[i])
		}
	}()
	// The encoder holds one batch, the queue four: the producer must be
	// waiting on the sixth.
	waitFor(t, 10*time.Second, "the queue to fill", func() bool { return len(e.queue) == queueLen })
	time.Sleep(200 * time.Millisecond)
	select {
	case <-added:
		t.Fatal("the producer did not wait for the stuck disk")
	default:
	}
	thaw()
	<-added
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, store, total)
	if n := e.Stats().Loss[LossQueueFull]; n != 0 {
		t.Errorf("%d records dropped", n)
	}
}
