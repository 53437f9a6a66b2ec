// Package ingest is the center's gRPC server for probes: it authenticates
// each probe (bearer token, client certificate, or both), rate-limits it,
// decodes and validates its batches (internal/wire) and hands them, in
// order, to the center's Handler, acknowledging each batch only once the
// Handler stored it. docs/wire.md describes the protocol.
package ingest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // probes compress batches with gzip
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/wirewatch/wirewatch/internal/record"
	"github.com/wirewatch/wirewatch/internal/wire"
	pb "github.com/wirewatch/wirewatch/internal/wire/wirewatchv1"
)

// Handler stores one batch; the center passes its store write (and edge
// derivation). It is called in order for a probe's batches, one at a time
// per probe. duplicate reports a batch stored before (the same probe,
// SpoolID and Seq, store.Store.Write). The batch holds only valid
// records: those that failed validation were left out and are counted in
// its Loss under wire.LossInvalidPrefix keys. An
// error wrapping ErrRefused means the batch can never be stored: it is
// acknowledged as refused and the probe drops it. Any other error ends the
// stream; the probe resends the batch later.
type Handler func(ctx context.Context, b *record.Batch) (duplicate bool, err error)

// ErrRefused marks a Handler error about the batch's content rather than
// the store's health.
var ErrRefused = errors.New("batch refused")

// maxProbes bounds the per-probe state (stats, rate limiter) when the
// center authenticates nobody (AllowInsecure without Tokens or client
// CA), where a client could claim any number of IDs.
const maxProbes = 10_000

// Server is the ingest gRPC server.
type Server struct {
	pb.UnimplementedIngestServer

	cfg      Config
	handler  Handler
	log      *slog.Logger
	creds    credentials.TransportCredentials
	srv      *grpc.Server
	lis      net.Listener
	quit     chan struct{}
	stopOnce sync.Once
	served   chan struct{}
	streams  chan struct{} // semaphore: one slot per open stream

	mu      sync.Mutex
	probes  map[string]*probeState
	unknown *probeState // refusals before a probe was identified
}

// New checks cfg, loads the TLS files and returns a server that is not
// listening yet.
func New(cfg Config, handler Handler, log *slog.Logger) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if handler == nil {
		return nil, errors.New("ingest: nil Handler")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:     cfg,
		handler: handler,
		log:     log.With("component", "ingest"),
		quit:    make(chan struct{}),
		served:  make(chan struct{}),
		streams: make(chan struct{}, cfg.MaxStreams),
		probes:  make(map[string]*probeState),
		unknown: newProbeState(cfg),
	}
	if cfg.TLS.CertFile != "" {
		tc, err := serverTLS(cfg.TLS)
		if err != nil {
			return nil, err
		}
		s.creds = countingCreds{credentials.NewTLS(tc), s.tlsRefused}
	} else {
		s.creds = insecure.NewCredentials()
	}
	if len(cfg.Tokens) == 0 && cfg.TLS.ClientCAFile == "" {
		s.log.Warn("ingest accepts any probe: no Tokens and no TLS.ClientCAFile")
	}
	return s, nil
}

func serverTLS(c TLSConfig) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("ingest: TLS.CertFile/TLS.KeyFile: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("ingest: TLS.ClientCAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ingest: TLS.ClientCAFile %s holds no PEM certificate", c.ClientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// Start listens and serves in the background.
func (s *Server) Start() error {
	if s.srv != nil {
		return errors.New("ingest: already started")
	}
	lis, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("ingest: listen: %w", err)
	}
	s.lis = lis
	s.srv = grpc.NewServer(
		grpc.Creds(s.creds),
		grpc.MaxRecvMsgSize(s.cfg.MaxMessageBytes),
		grpc.MaxConcurrentStreams(16), // a probe needs one; a few more ride out reconnects
		// Probes ping every 30 s (internal/export); a dead probe's stream
		// is closed after the ping goes unanswered.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second}),
		grpc.ConnectionTimeout(10*time.Second),
	)
	pb.RegisterIngestServer(s.srv, s)
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(lis); err != nil {
			s.log.Error("ingest server stopped", "err", err)
		}
	}()
	s.log.Info("ingest listening", "addr", lis.Addr().String(), "tls", s.cfg.TLS.CertFile != "", "client_certs", s.cfg.TLS.ClientCAFile != "", "tokens", len(s.cfg.Tokens))
	return nil
}

// Addr is the listening address (nil before Start): with port 0 in
// Listen, the port the system chose.
func (s *Server) Addr() net.Addr {
	if s.lis == nil {
		return nil
	}
	return s.lis.Addr()
}

// Stop stops accepting, lets every stream finish the batch it is storing
// (and acknowledge it), ends the streams with Unavailable so that probes
// reconnect elsewhere or later, and returns when all is done or, after ctx
// ends, cuts what is left.
func (s *Server) Stop(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	s.stopOnce.Do(func() { close(s.quit) })
	done := make(chan struct{})
	go func() {
		s.srv.GracefulStop()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.srv.Stop()
		<-done
		err = fmt.Errorf("ingest: stop: %w (streams cut)", ctx.Err())
	}
	<-s.served
	return err
}

type received struct {
	m   *pb.Batch
	err error
}

// Report serves one probe's stream.
func (s *Server) Report(stream pb.Ingest_ReportServer) error {
	ctx := stream.Context()
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		return status.Errorf(codes.ResourceExhausted, "center is serving %d streams, its limit", s.cfg.MaxStreams)
	}
	id, ps, err := s.authenticate(ctx)
	if err != nil {
		s.log.Warn("probe refused", "peer", peerAddr(ctx), "err", err)
		return err
	}
	if err := stream.SendHeader(metadata.Pairs(wire.MetaMaxMessage, strconv.Itoa(s.cfg.MaxMessageBytes))); err != nil {
		return err
	}
	ps.streams.Add(1)
	defer ps.streams.Add(-1)
	s.log.Debug("probe connected", "probe", id, "peer", peerAddr(ctx))

	// Recv runs apart so that Stop can end a stream whose probe is idle.
	in := make(chan received)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			m, err := stream.Recv()
			select {
			case in <- received{m, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		var r received
		select {
		case <-s.quit:
			return status.Error(codes.Unavailable, "center stopping")
		case r = <-in:
		}
		if r.err == io.EOF {
			return nil
		}
		if r.err != nil {
			if status.Code(r.err) == codes.ResourceExhausted {
				// grpc refused a message over MaxRecvMsgSize.
				ps.refused[reasonSize].Add(1)
				s.log.Warn("batch over the size limit", "probe", id, "limit", s.cfg.MaxMessageBytes, "err", r.err)
			}
			return r.err
		}
		ack, err := s.batch(ctx, id, ps, r.m)
		if err != nil {
			return err
		}
		if err := stream.Send(ack); err != nil {
			return err
		}
	}
}

// batch handles one received message: it returns the Ack to send, or the
// error that ends the stream.
func (s *Server) batch(ctx context.Context, id string, ps *probeState, m *pb.Batch) (*pb.Ack, error) {
	n := len(m.Windows) + len(m.Flows) + len(m.Transactions) + len(m.Traffic)
	if wait := ps.bucket.take(n, time.Now()); wait > 0 {
		ps.refused[reasonRate].Add(1)
		return nil, rateError(id, s.cfg.RecordsPerSecond, wait)
	}
	size := proto.Size(m)
	ps.bytes.Add(uint64(size))
	refuse := func(reason int, err error) (*pb.Ack, error) {
		ps.refused[reason].Add(1)
		s.log.Warn("batch refused", "probe", id, "seq", m.Seq, "reason", reasonNames[reason], "err", err)
		return &pb.Ack{Seq: m.Seq, Refused: err.Error()}, nil
	}
	b, dropped, err := wire.FromProto(m)
	if err != nil {
		return refuse(reasonDecode, err)
	}
	if dropped.Total() > 0 {
		// Counted with the batch, so that the store adds them to the
		// probe's loss counters once, however often the batch is resent.
		if b.Loss == nil {
			b.Loss = make(map[string]uint64, len(dropped.Records))
		}
		for reason, n := range dropped.Records {
			b.Loss[wire.LossInvalidPrefix+reason] = n
		}
	}
	if b.Probe.ID != id {
		ps.refused[reasonAuth].Add(1)
		return nil, status.Errorf(codes.PermissionDenied, "batch of probe %q on the stream of probe %q", b.Probe.ID, id)
	}
	if b.Seq == 0 {
		return refuse(reasonDecode, fmt.Errorf("%w: seq 0 (sequence numbers start at 1)", wire.ErrInvalid))
	}
	ps.write.Lock()
	dup, err := s.handler(ctx, b)
	ps.write.Unlock()
	if err != nil {
		if errors.Is(err, ErrRefused) {
			return refuse(reasonStore, err)
		}
		ps.errors.Add(1)
		s.log.Warn("storing a batch failed", "probe", id, "seq", b.Seq, "err", err)
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, status.Errorf(codes.Unavailable, "storing batch %d: %v", b.Seq, err)
	}
	if dup {
		ps.duplicates.Add(1)
	} else {
		ps.batches.Add(1)
		ps.records.Add(uint64(b.Records()))
		if dropped.Total() > 0 {
			ps.addInvalid(dropped.Records)
			s.log.Warn("invalid records dropped", "probe", id, "seq", b.Seq, "records", dropped.Total(), "first", dropped.First)
		}
	}
	return &pb.Ack{Seq: b.Seq, Duplicate: dup}, nil
}
