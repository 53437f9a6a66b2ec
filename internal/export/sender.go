package export

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/gzip"
	_ "google.golang.org/grpc/encoding/proto" // the codec rawCodec delegates to
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/wirewatch/wirewatch/internal/wire"
	pb "github.com/wirewatch/wirewatch/internal/wire/wirewatchv1"
)

// Reconnection backoff: exponential from minBackoff to maxBackoff, with
// jitter; reset by a session in which the center acknowledged something.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

func (e *Exporter) dial() (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(e.cfg.Center,
		grpc.WithTransportCredentials(e.creds),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		// grpc's own reconnection backoff defaults to 1 s .. 120 s; ours
		// is the one that counts.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: minBackoff, Multiplier: 2, Jitter: 0.2, MaxDelay: maxBackoff},
			MinConnectTimeout: 5 * time.Second,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("export: center %q: %w", e.cfg.Center, err)
	}
	return conn, nil
}

// sendLoop runs sessions until ctx ends, backing off between failures.
func (e *Exporter) sendLoop(ctx context.Context) {
	defer close(e.sendDone)
	failures := 0
	for ctx.Err() == nil {
		progress, err := e.session(ctx)
		if ctx.Err() != nil {
			return
		}
		e.sessionErrors.Add(1)
		if progress {
			failures = 0
		}
		delay := backoffDelay(failures)
		failures++
		if ri := retryInfo(err); ri > 0 {
			delay = ri + time.Duration(rand.Int64N(int64(ri)/10+1))
		}
		e.log.Warn("center stream ended", "center", e.cfg.Center, "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// backoffDelay is the wait after n consecutive failures: exponential,
// with "equal jitter" (half fixed, half random) so probes that lost the
// same center do not come back in step.
func backoffDelay(n int) time.Duration {
	d := maxBackoff
	if n < 20 {
		d = min(maxBackoff, minBackoff<<n)
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// retryInfo is the delay the center asked for (rate limit), or 0.
func retryInfo(err error) time.Duration {
	st, ok := status.FromError(err)
	if !ok {
		return 0
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.RetryDelay != nil {
			return min(ri.RetryDelay.AsDuration(), time.Minute)
		}
	}
	return 0
}

// session streams the spool over one Report stream until it fails. It
// reports whether the center acknowledged anything.
func (e *Exporter) session(parent context.Context) (progress bool, err error) {
	e.sessions.Add(1)
	// Whatever the previous session sent and the center did not
	// acknowledge is sent again.
	e.sp.Rewind()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	md := metadata.Pairs(wire.MetaProbe, e.info.ID)
	if e.cfg.Token != "" {
		md.Set(wire.MetaAuthorization, "Bearer "+e.cfg.Token)
	}
	opts := []grpc.CallOption{grpc.ForceCodecV2(rawCodec{})}
	if e.cfg.Gzip {
		opts = append(opts, grpc.UseCompressor(gzip.Name))
	}
	cs, err := e.conn.NewStream(metadata.NewOutgoingContext(ctx, md), &pb.Ingest_ServiceDesc.Streams[0], pb.Ingest_Report_FullMethodName, opts...)
	if err != nil {
		return false, err
	}
	hdr, err := cs.Header()
	if err != nil {
		return false, err
	}
	if hdr == nil {
		// Ended without headers: the status says why.
		return false, cs.RecvMsg(new(pb.Ack))
	}
	maxMsg := 0
	if v := hdr.Get(wire.MetaMaxMessage); len(v) > 0 {
		maxMsg, _ = strconv.Atoi(v[0])
	}
	e.connected.Store(true)
	defer e.connected.Store(false)

	fl := &flight{e: e, slots: make(chan struct{}, e.cfg.MaxInFlight)}
	recvErr := make(chan error, 1)
	go func() {
		for {
			var ack pb.Ack
			if err := cs.RecvMsg(&ack); err != nil {
				recvErr <- err
				cancel()
				return
			}
			if err := fl.ack(&ack); err != nil {
				recvErr <- err
				cancel()
				return
			}
		}
	}()
	spoolID := e.sp.ID()
	for {
		select {
		case fl.slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		seq, rec, err := e.sp.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				// The spool is closed or broken: nothing more to send.
				cancel()
				<-recvErr
				return fl.progress(), fmt.Errorf("export: spool: %w", err)
			}
			break
		}
		raw := appendEnvelope(rec, seq, spoolID)
		if maxMsg > 0 && len(raw) > maxMsg {
			e.tooLarge.Add(1)
			e.log.Error("batch larger than the center accepts: dropped", "seq", seq, "bytes", len(raw), "limit", maxMsg)
			fl.local(seq)
			<-fl.slots
			continue
		}
		fl.sent(seq)
		if err := cs.SendMsg(rawBatch(raw)); err != nil {
			// The stream is over; RecvMsg has its status (a rate limit's
			// retry delay, say), which a cancel now could replace.
			err := <-recvErr
			return fl.progress(), err
		}
		e.sent.Add(1)
	}
	cancel()
	return fl.progress(), <-recvErr
}

// flight tracks the batches of a session between sending and the center's
// acknowledgement, in sending order, so that the spool is acknowledged in
// order: batches dropped here (too large) are released only once every
// batch sent before them was acknowledged.
type flight struct {
	e     *Exporter
	slots chan struct{} // one per batch sent and not acknowledged

	mu    sync.Mutex
	queue []entry
	acked bool
}

type entry struct {
	seq  uint64
	done bool
}

func (f *flight) sent(seq uint64) {
	f.mu.Lock()
	f.queue = append(f.queue, entry{seq: seq})
	f.mu.Unlock()
}

// local releases a batch that was not sent.
func (f *flight) local(seq uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, entry{seq: seq, done: true})
	f.releaseLocked()
}

func (f *flight) ack(a *pb.Ack) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := 0
	for i < len(f.queue) && f.queue[i].done {
		i++
	}
	if i == len(f.queue) || f.queue[i].seq != a.Seq {
		want := "none"
		if i < len(f.queue) {
			want = strconv.FormatUint(f.queue[i].seq, 10)
		}
		return fmt.Errorf("export: center acknowledged seq %d, expected %s", a.Seq, want)
	}
	f.queue[i].done = true
	f.acked = true
	switch {
	case a.Refused != "":
		f.e.refused.Add(1)
		f.e.log.Error("center refused a batch: dropped", "seq", a.Seq, "reason", a.Refused)
	case a.Duplicate:
		f.e.duplicates.Add(1)
	default:
		f.e.acked.Add(1)
	}
	<-f.slots
	return f.releaseLocked()
}

// releaseLocked acknowledges the spool up to the last of the leading
// done entries.
func (f *flight) releaseLocked() error {
	n := 0
	for n < len(f.queue) && f.queue[n].done {
		n++
	}
	if n == 0 {
		return nil
	}
	last := f.queue[n-1].seq
	f.queue = append(f.queue[:0], f.queue[n:]...)
	if err := f.e.sp.Ack(last); err != nil {
		return fmt.Errorf("export: spool ack %d: %w", last, err)
	}
	return nil
}

func (f *flight) progress() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.acked
}

// appendEnvelope completes a spooled batch for sending: the encoding in
// the spool has no seq (the spool numbers records as it stores them), and
// protobuf lets fields appended to a message override earlier ones, so
// the batch is sent without being decoded and encoded again.
func appendEnvelope(rec []byte, seq uint64, spoolID string) []byte {
	rec = protowire.AppendTag(rec, 2, protowire.VarintType)
	rec = protowire.AppendVarint(rec, seq)
	if spoolID != "" {
		rec = protowire.AppendTag(rec, 10, protowire.BytesType)
		rec = protowire.AppendString(rec, spoolID)
	}
	return rec
}

// rawBatch is an encoded pb.Batch.
type rawBatch []byte

// rawCodec sends rawBatch values as they are and handles everything else
// (the center's Acks) with grpc's protobuf codec. Its name is "proto", so
// the center sees an ordinary protobuf stream.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if r, ok := v.(rawBatch); ok {
		return mem.BufferSlice{mem.SliceBuffer(r)}, nil
	}
	return protoCodec.Marshal(v)
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return protoCodec.Unmarshal(data, v)
}

func (rawCodec) Name() string { return "proto" }

// protoCodec is registered by grpc's encoding/proto package, whose init
// runs before this package's variables are set.
var protoCodec = encoding.GetCodecV2("proto")
