package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/wirewatch/wirewatch/internal/center/ingest/ingesttest"
	"github.com/wirewatch/wirewatch/internal/record"
	storeapi "github.com/wirewatch/wirewatch/internal/store"
	"github.com/wirewatch/wirewatch/internal/wire"
	pb "github.com/wirewatch/wirewatch/internal/wire/wirewatchv1"
)

const (
	tokenA = "token-of-probe-a-0123456789"
	tokenB = "token-of-probe-b-0123456789"
)

// start runs a server on 127.0.0.1 with a free port and stops it when the
// test ends.
func start(t *testing.T, cfg Config, h Handler) *Server {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	s, err := New(cfg, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

// dial connects a plain or TLS client.
func dial(t *testing.T, s *Server, creds credentials.TransportCredentials) pb.IngestClient {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	conn, err := grpc.NewClient(s.Addr().String(), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewIngestClient(conn)
}

// open starts a Report stream with the given metadata pairs.
func open(t *testing.T, c pb.IngestClient, kv ...string) pb.Ingest_ReportClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	st, err := c.Report(metadata.AppendToOutgoingContext(ctx, kv...))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func creds(id, token string) []string {
	return []string{wire.MetaProbe, id, wire.MetaAuthorization, "Bearer " + token}
}

// batch makes a wire batch of probe id with n flow records.
func batch(t testing.TB, id string, seq uint64, n int) *pb.Batch {
	t.Helper()
	b := &record.Batch{Probe: record.ProbeInfo{ID: id, Hostname: "h"}, Seq: seq, SentAt: time.Now()}
	for i := range n {
		b.Flows = append(b.Flows, record.Flow{
			Start: time.Unix(1000, 0), End: time.Unix(1001, 0), Transport: "tcp",
			Client:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 40000),
			Server:  netip.MustParseAddrPort("10.1.1.1:443"),
			Packets: [2]uint64{uint64(i), 1},
		})
	}
	m, err := wire.ToProto(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// try opens a stream, sends one batch and returns its ack or the error,
// from the stream's opening or from the exchange.
func try(t *testing.T, c pb.IngestClient, m *pb.Batch, kv ...string) (*pb.Ack, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.Report(metadata.AppendToOutgoingContext(ctx, kv...))
	if err != nil {
		return nil, err
	}
	return exchange(st, m)
}

// exchange sends one batch and returns its ack or the stream's error.
func exchange(st pb.Ingest_ReportClient, m *pb.Batch) (*pb.Ack, error) {
	if err := st.Send(m); err != nil && err != io.EOF {
		return nil, err
	}
	return st.Recv()
}

func wantCode(t *testing.T, err error, code codes.Code, text string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("got %v, want code %v", err, code)
	}
	if !strings.Contains(status.Convert(err).Message(), text) {
		t.Fatalf("error %q does not say %q", status.Convert(err).Message(), text)
	}
}

func TestTokens(t *testing.T) {
	store := &ingesttest.Store{}
	s := start(t, Config{Tokens: map[string]string{"probe-a": tokenA, "probe-b": tokenB}}, store.Handle)
	c := dial(t, s, nil)

	cases := []struct {
		name string
		md   []string
		code codes.Code
		text string
	}{
		{"no metadata", nil, codes.Unauthenticated, "x-wirewatch-probe"},
		{"no token", []string{wire.MetaProbe, "probe-a"}, codes.Unauthenticated, "no bearer token"},
		{"not bearer", []string{wire.MetaProbe, "probe-a", wire.MetaAuthorization, "Basic " + tokenA}, codes.Unauthenticated, "no bearer token"},
		{"wrong token", creds("probe-a", tokenA+"x"), codes.Unauthenticated, "token not accepted"},
		{"token of another probe", creds("probe-a", tokenB), codes.Unauthenticated, "token not accepted"},
		{"unknown probe", creds("probe-z", tokenA), codes.Unauthenticated, "token not accepted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := exchange(open(t, c, tc.md...), batch(t, "probe-a", 1, 1))
			wantCode(t, err, tc.code, tc.text)
		})
	}
	// Probe B's credentials, probe A's batch.
	_, err := exchange(open(t, c, creds("probe-b", tokenB)...), batch(t, "probe-a", 1, 1))
	wantCode(t, err, codes.PermissionDenied, `batch of probe "probe-a" on the stream of probe "probe-b"`)
	if n := len(store.Batches()); n != 0 {
		t.Fatalf("%d batches stored from refused streams", n)
	}

	st := open(t, c, creds("probe-a", tokenA)...)
	ack, err := exchange(st, batch(t, "probe-a", 7, 3))
	if err != nil {
		t.Fatal(err)
	}
	if ack.Seq != 7 || ack.Duplicate || ack.Refused != "" {
		t.Fatalf("ack %v, want seq 7 stored", ack)
	}
	hdr, err := st.Header()
	if err != nil {
		t.Fatal(err)
	}
	if got := hdr.Get(wire.MetaMaxMessage); len(got) != 1 || got[0] != strconv.Itoa(DefaultMaxMessageBytes) {
		t.Errorf("max message header %v", got)
	}
	got := store.Batches()
	if len(got) != 1 || got[0].Seq != 7 || len(got[0].Flows) != 3 || got[0].Flows[2].Client.Addr() != netip.MustParseAddr("10.0.0.2") {
		t.Fatalf("stored %+v", got)
	}

	stats := s.Stats()
	a, b, u := stats.Probes["probe-a"], stats.Probes["probe-b"], stats.Probes[""]
	// probe-a: no token, not bearer, wrong token, token of another probe.
	if a.Refused["auth"] != 4 || a.Batches != 1 || a.Records != 3 || a.Bytes == 0 {
		t.Errorf("probe-a stats %+v", a)
	}
	if b.Refused["auth"] != 1 || b.Batches != 0 {
		t.Errorf("probe-b stats %+v", b)
	}
	// No metadata, unknown probe.
	if u.Refused["auth"] != 2 {
		t.Errorf("unknown stats %+v", u)
	}
	if _, ok := stats.Probes["probe-z"]; ok {
		t.Error("an unknown probe got its own stats entry")
	}
}

// tlsSetup makes a CA, a server certificate and the files for Config.TLS.
func tlsSetup(t *testing.T) (*ingesttest.CA, TLSConfig) {
	dir := t.TempDir()
	ca := ingesttest.NewCA(t, "probes")
	certFile, keyFile := ingesttest.WritePair(t, dir, "server", ca.Server(t))
	return ca, TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: ca.WriteCA(t, dir)}
}

func clientTLS(ca *ingesttest.CA, cert *tls.Certificate) credentials.TransportCredentials {
	c := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	if cert != nil {
		// Sent whatever CAs the server asks for: Go's client would
		// otherwise hold back a certificate of a CA the server does not
		// list, and the wrong-CA case would test the no-certificate one.
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return credentials.NewTLS(c)
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestClientCertificates(t *testing.T) {
	ca, tc := tlsSetup(t)
	store := &ingesttest.Store{}
	s := start(t, Config{TLS: tc}, store.Handle)
	other := ingesttest.NewCA(t, "intruders")

	good := ca.Client(t, "probe-a")
	bySAN := ca.Client(t, "something-else", "probe-b.example", "probe-b")
	wrongName := ca.Client(t, "probe-c")
	foreign := other.Client(t, "probe-a")

	ack, err := exchange(open(t, dial(t, s, clientTLS(ca, &good)), wire.MetaProbe, "probe-a"), batch(t, "probe-a", 1, 1))
	if err != nil || ack.Seq != 1 {
		t.Fatalf("CN match: ack %v err %v", ack, err)
	}
	ack, err = exchange(open(t, dial(t, s, clientTLS(ca, &bySAN)), wire.MetaProbe, "probe-b"), batch(t, "probe-b", 1, 1))
	if err != nil || ack.Seq != 1 {
		t.Fatalf("DNS SAN match: ack %v err %v", ack, err)
	}
	_, err = exchange(open(t, dial(t, s, clientTLS(ca, &wrongName)), wire.MetaProbe, "probe-a"), batch(t, "probe-a", 2, 1))
	wantCode(t, err, codes.PermissionDenied, `does not name probe "probe-a"`)

	// Refused in the TLS handshake: the client sees the connection fail
	// (with the TLS alert, or a broken pipe when the server hung up
	// first) and the server counts a refusal.
	handshakes := func() uint64 { return s.Stats().Probes[""].Refused["auth"] }
	for _, client := range []struct {
		name  string
		creds credentials.TransportCredentials
	}{
		{"no certificate", clientTLS(ca, nil)},
		{"another CA", clientTLS(ca, &foreign)},
		{"plaintext", nil},
	} {
		before := handshakes()
		_, err = try(t, dial(t, s, client.creds), batch(t, "probe-a", 2, 1), wire.MetaProbe, "probe-a")
		wantCode(t, err, codes.Unavailable, "")
		waitFor(t, func() bool { return handshakes() > before }, client.name+" counted")
	}
	if n := len(store.Batches()); n != 2 {
		t.Errorf("%d batches stored, want 2", n)
	}
}

func TestTokensAndCertificates(t *testing.T) {
	ca, tc := tlsSetup(t)
	store := &ingesttest.Store{}
	s := start(t, Config{TLS: tc, Tokens: map[string]string{"probe-a": tokenA, "probe-b": tokenB}}, store.Handle)
	certA := ca.Client(t, "probe-a")
	c := dial(t, s, clientTLS(ca, &certA))
	// B's token is right for B, but the certificate is A's.
	_, err := exchange(open(t, c, creds("probe-b", tokenB)...), batch(t, "probe-b", 1, 1))
	wantCode(t, err, codes.PermissionDenied, "does not name probe")
	_, err = exchange(open(t, c, creds("probe-a", tokenB)...), batch(t, "probe-a", 1, 1))
	wantCode(t, err, codes.Unauthenticated, "token not accepted")
	ack, err := exchange(open(t, c, creds("probe-a", tokenA)...), batch(t, "probe-a", 1, 1))
	if err != nil || ack.Seq != 1 {
		t.Fatalf("ack %v err %v", ack, err)
	}
}

func TestSizeLimit(t *testing.T) {
	store := &ingesttest.Store{}
	s := start(t, Config{AllowInsecure: true, MaxMessageBytes: 64 << 10}, store.Handle)
	st := open(t, dial(t, s, nil), wire.MetaProbe, "p")
	small := batch(t, "p", 1, 10)
	if ack, err := exchange(st, small); err != nil || ack.Seq != 1 {
		t.Fatalf("small batch: ack %v err %v", ack, err)
	}
	big := batch(t, "p", 2, 3000) // ~100 KB
	_, err := exchange(st, big)
	wantCode(t, err, codes.ResourceExhausted, "larger than max")
	if got := s.Stats().Probes["p"].Refused["size"]; got != 1 {
		t.Errorf("size refusals %d, want 1", got)
	}
	if n := len(store.Batches()); n != 1 {
		t.Errorf("%d batches stored, want 1", n)
	}
}

func TestRateLimit(t *testing.T) {
	store := &ingesttest.Store{}
	s := start(t, Config{AllowInsecure: true, RecordsPerSecond: 200, Burst: 100}, store.Handle)
	c := dial(t, s, nil)
	st := open(t, c, wire.MetaProbe, "p")
	if ack, err := exchange(st, batch(t, "p", 1, 100)); err != nil || ack.Seq != 1 {
		t.Fatalf("first batch: ack %v err %v", ack, err)
	}
	_, err := exchange(st, batch(t, "p", 2, 50))
	wantCode(t, err, codes.ResourceExhausted, "over 200 records/s")
	var delay time.Duration
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.RetryDelay.AsDuration()
		}
	}
	// 50 records at 200/s from an empty bucket: 250 ms, less what refilled
	// between the two batches.
	if delay <= 0 || delay > 250*time.Millisecond {
		t.Fatalf("retry delay %v, want in (0, 250ms]", delay)
	}
	time.Sleep(delay)
	ack, err := exchange(open(t, c, wire.MetaProbe, "p"), batch(t, "p", 2, 50))
	if err != nil || ack.Seq != 2 {
		t.Fatalf("after the delay: ack %v err %v", ack, err)
	}
	if got := s.Stats().Probes["p"]; got.Refused["rate"] != 1 || got.Batches != 2 || got.Records != 150 {
		t.Errorf("stats %+v", got)
	}
}

func TestBucket(t *testing.T) {
	var b bucket
	b.init(10, 20)
	t0 := time.Unix(1000, 0)
	if w := b.take(20, t0); w != 0 {
		t.Fatalf("full bucket refused 20: %v", w)
	}
	if w := b.take(5, t0); w != 500*time.Millisecond {
		t.Fatalf("empty bucket: wait %v, want 500ms", w)
	}
	if w := b.take(5, t0.Add(500*time.Millisecond)); w != 0 {
		t.Fatalf("after 500ms: wait %v", w)
	}
	// Bigger than the burst: waits for a full bucket, then goes negative.
	if w := b.take(50, t0.Add(time.Second)); w != 1500*time.Millisecond {
		t.Fatalf("big take on 5 tokens: wait %v, want 1.5s", w)
	}
	if w := b.take(50, t0.Add(2500*time.Millisecond)); w != 0 {
		t.Fatalf("big take on a full bucket: wait %v", w)
	}
	if w := b.take(1, t0.Add(2500*time.Millisecond)); w != 3100*time.Millisecond {
		t.Fatalf("after going 30 below zero: wait %v, want 3.1s", w)
	}
	var off bucket
	off.init(-1, 0)
	if w := off.take(1e9, t0); w != 0 {
		t.Fatalf("no limit: wait %v", w)
	}
}

// TestRefusedBatches: a batch whose envelope fails validation, or that
// the Handler refuses, is acknowledged as refused and the stream goes on;
// any other Handler error ends the stream with Unavailable.
func TestRefusedBatches(t *testing.T) {
	store := &ingesttest.Store{Fail: func(b *record.Batch) error {
		switch b.Seq {
		case 4:
			return fmt.Errorf("%w: text not valid UTF-8", ErrRefused)
		case 6:
			return errors.New("disk full")
		}
		return nil
	}}
	s := start(t, Config{AllowInsecure: true}, store.Handle)
	st := open(t, dial(t, s, nil), wire.MetaProbe, "p")

	bad := batch(t, "p", 2, 1)
	bad.Probe.Addresses = [][]byte{{1, 2, 3}}
	zero := batch(t, "p", 0, 1)
	for _, step := range []struct {
		m       *pb.Batch
		seq     uint64
		refused string
		dup     bool
	}{
		{batch(t, "p", 1, 1), 1, "", false},
		{bad, 2, "addresses[0] is 3 bytes", false},
		{zero, 0, "seq 0", false},
		{batch(t, "p", 3, 1), 3, "", false},
		{batch(t, "p", 4, 1), 4, "not valid UTF-8", false},
		{batch(t, "p", 3, 1), 3, "", true},
		{batch(t, "p", 5, 1), 5, "", false},
	} {
		ack, err := exchange(st, step.m)
		if err != nil {
			t.Fatalf("seq %d: %v", step.seq, err)
		}
		if ack.Seq != step.seq || ack.Duplicate != step.dup || !strings.Contains(ack.Refused, step.refused) || (step.refused == "") != (ack.Refused == "") {
			t.Fatalf("seq %d: ack %v, want refused %q dup %v", step.seq, ack, step.refused, step.dup)
		}
	}
	_, err := exchange(st, batch(t, "p", 6, 1))
	wantCode(t, err, codes.Unavailable, "disk full")

	got := s.Stats().Probes["p"]
	if got.Batches != 3 || got.Duplicates != 1 || got.Errors != 1 || got.Refused["decode"] != 2 || got.Refused["store"] != 1 {
		t.Errorf("stats %+v", got)
	}
	var seqs []uint64
	for _, b := range store.Batches() {
		seqs = append(seqs, b.Seq)
	}
	if fmt.Sprint(seqs) != "[1 3 5]" {
		t.Errorf("stored seqs %v, want [1 3 5]", seqs)
	}
}

// TestInvalidRecordsDropped: the invalid records of a batch are left out
// and counted, per reason, in the stored batch's loss counters and in the
// probe's stats; the batch's other records are stored. A resend of the
// batch is a duplicate and counts nothing again.
func TestInvalidRecordsDropped(t *testing.T) {
	store := &ingesttest.Store{}
	s := start(t, Config{AllowInsecure: true}, store.Handle)
	st := open(t, dial(t, s, nil), wire.MetaProbe, "p")

	m := batch(t, "p", 1, 6)
	m.SpoolId = "s"
	m.Loss = map[string]uint64{"capture_kernel_drops": 7}
	m.Flows[1].ClientAddr = []byte{1, 2, 3} // address
	m.Flows[3].End = m.Flows[3].Start - 1   // time
	m.Flows[4].ServerPort = 70000           // address
	valid := []int{0, 2, 5}                 // by Packets[0], which batch() sets to the index
	for _, resend := range []bool{false, true} {
		ack, err := exchange(st, m)
		if err != nil {
			t.Fatal(err)
		}
		if ack.Seq != 1 || ack.Refused != "" || ack.Duplicate != resend {
			t.Fatalf("resend %v: ack %v", resend, ack)
		}
	}
	bs := store.Batches()
	if len(bs) != 1 {
		t.Fatalf("%d batches stored, want 1", len(bs))
	}
	var kept []int
	for _, f := range bs[0].Flows {
		kept = append(kept, int(f.Packets[0]))
	}
	if !slices.Equal(kept, valid) {
		t.Errorf("stored flows %v, want %v", kept, valid)
	}
	wantLoss := map[string]uint64{"capture_kernel_drops": 7,
		wire.LossInvalidPrefix + wire.ReasonAddress: 2, wire.LossInvalidPrefix + wire.ReasonTime: 1}
	if !maps.Equal(bs[0].Loss, wantLoss) {
		t.Errorf("stored loss %v, want %v", bs[0].Loss, wantLoss)
	}
	got := s.Stats().Probes["p"]
	if got.Batches != 1 || got.Duplicates != 1 || got.Records != uint64(len(valid)) ||
		!maps.Equal(got.Invalid, map[string]uint64{wire.ReasonAddress: 2, wire.ReasonTime: 1}) || got.Refused["decode"] != 0 {
		t.Errorf("stats %+v", got)
	}
	if !strings.HasPrefix(wire.LossInvalidPrefix, storeapi.CenterLossPrefix) {
		t.Errorf("%q is not one of the center's loss keys (%q): the store would not add it up", wire.LossInvalidPrefix, storeapi.CenterLossPrefix)
	}
}

// TestPipelined sends many batches before reading any ack: acks come back
// in order, each after its batch was stored.
func TestPipelined(t *testing.T) {
	var mu sync.Mutex
	var stored []uint64
	s := start(t, Config{AllowInsecure: true}, func(_ context.Context, b *record.Batch) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		stored = append(stored, b.Seq)
		return false, nil
	})
	st := open(t, dial(t, s, nil), wire.MetaProbe, "p")
	const n = 50
	go func() {
		for i := range n {
			if err := st.Send(batch(t, "p", uint64(i+1), 5)); err != nil {
				return
			}
		}
	}()
	for i := range n {
		ack, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ack.Seq != uint64(i+1) {
			t.Fatalf("ack %d has seq %d", i, ack.Seq)
		}
		mu.Lock()
		ok := len(stored) >= i+1 && stored[i] == ack.Seq
		mu.Unlock()
		if !ok {
			t.Fatalf("seq %d acknowledged before it was stored", ack.Seq)
		}
	}
}

func TestStopEndsIdleStreams(t *testing.T) {
	store := &ingesttest.Store{}
	cfg := Config{AllowInsecure: true, Listen: "127.0.0.1:0"}
	s, err := New(cfg, store.Handle, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	st := open(t, dial(t, s, nil), wire.MetaProbe, "p")
	if ack, err := exchange(st, batch(t, "p", 1, 1)); err != nil || ack.Seq != 1 {
		t.Fatalf("ack %v err %v", ack, err)
	}
	if s.Stats().Streams != 1 {
		t.Errorf("open streams %d, want 1", s.Stats().Streams)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	begin := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("Stop took %v with an idle stream", d)
	}
	_, err = st.Recv()
	wantCode(t, err, codes.Unavailable, "")
	if err := s.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestMaxStreams(t *testing.T) {
	block := make(chan struct{})
	s := start(t, Config{AllowInsecure: true, MaxStreams: 1}, func(context.Context, *record.Batch) (bool, error) {
		<-block
		return false, nil
	})
	c := dial(t, s, nil)
	first := open(t, c, wire.MetaProbe, "p")
	if err := first.Send(batch(t, "p", 1, 1)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Streams != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	_, err := exchange(open(t, c, wire.MetaProbe, "q"), batch(t, "q", 1, 1))
	wantCode(t, err, codes.ResourceExhausted, "streams")
	close(block)
	if ack, err := first.Recv(); err != nil || ack.Seq != 1 {
		t.Fatalf("first stream: ack %v err %v", ack, err)
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Listen: "nohost", AllowInsecure: true}, "Listen"},
		{Config{Listen: "127.0.0.1:99999", AllowInsecure: true}, "port"},
		{Config{Listen: ":10861", Tokens: map[string]string{"p": tokenA}}, "not a loopback address"},
		{Config{Listen: "10.0.0.1:10861", Tokens: map[string]string{"p": tokenA}}, "not a loopback address"},
		{Config{}, "no probe authentication"},
		{Config{Tokens: map[string]string{"p": "short"}}, `Tokens["p"] is 5 bytes`},
		{Config{Tokens: map[string]string{"": tokenA}}, "empty probe ID"},
		{Config{AllowInsecure: true, TLS: TLSConfig{CertFile: "x"}}, "TLS.CertFile and TLS.KeyFile"},
		{Config{AllowInsecure: true, TLS: TLSConfig{ClientCAFile: "x"}}, "TLS.ClientCAFile needs"},
		{Config{AllowInsecure: true, MaxMessageBytes: 100}, "MaxMessageBytes"},
		{Config{AllowInsecure: true, Burst: -1}, "Burst"},
		{Config{AllowInsecure: true, MaxStreams: -1}, "MaxStreams"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.cfg, err, c.want)
		}
	}
	for _, ok := range []Config{
		{AllowInsecure: true},
		{Listen: "[::1]:1", Tokens: map[string]string{"p": tokenA}},
		{Listen: "localhost:1", Tokens: map[string]string{"p": tokenA}},
		{Listen: ":1", AllowInsecure: true},
		{AllowInsecure: true, RecordsPerSecond: -1, Burst: -1},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	// Files are read by New.
	_, err := New(Config{TLS: TLSConfig{CertFile: dir + "/none.crt", KeyFile: dir + "/none.key"}, Tokens: map[string]string{"p": tokenA}}, (&ingesttest.Store{}).Handle, nil)
	if err == nil || !strings.Contains(err.Error(), "TLS.CertFile/TLS.KeyFile") {
		t.Errorf("missing cert files: %v", err)
	}
	ca, tc := tlsSetup(t)
	_ = ca
	tc.ClientCAFile = tc.KeyFile // PEM, but no certificate in it
	_, err = New(Config{TLS: tc}, (&ingesttest.Store{}).Handle, nil)
	if err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("bad client CA file: %v", err)
	}
	if _, err := New(Config{AllowInsecure: true}, nil, nil); err == nil {
		t.Error("nil handler accepted")
	}
}
