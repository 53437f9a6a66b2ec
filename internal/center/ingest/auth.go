package ingest

import (
	"context"
	"crypto/subtle"
	"net"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/wirewatch/wirewatch/internal/wire"
)

// authenticate decides who is on the stream. Refusals are counted under
// the claimed probe when it is a configured one (a probe with a stale
// token shows in its own stats), else under the unknown entry.
func (s *Server) authenticate(ctx context.Context) (string, *probeState, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	id := first(md, wire.MetaProbe)
	if id == "" || len(id) > wire.MaxNameBytes {
		s.unknown.refused[reasonAuth].Add(1)
		return "", nil, status.Errorf(codes.Unauthenticated, "missing or over-long %s metadata (the probe ID)", wire.MetaProbe)
	}
	if len(s.cfg.Tokens) > 0 {
		want, known := s.cfg.Tokens[id]
		got, ok := strings.CutPrefix(first(md, wire.MetaAuthorization), "Bearer ")
		if !ok || got == "" {
			s.refuseAuth(id, known)
			return "", nil, status.Errorf(codes.Unauthenticated, "probe %q: no bearer token in %s metadata", id, wire.MetaAuthorization)
		}
		// Compare even for an unknown ID so that timing does not tell
		// which IDs exist.
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 || !known {
			s.refuseAuth(id, known)
			return "", nil, status.Errorf(codes.Unauthenticated, "probe %q: token not accepted", id)
		}
	}
	if s.cfg.TLS.ClientCAFile != "" {
		if err := certNames(ctx, id); err != nil {
			s.refuseAuth(id, len(s.cfg.Tokens) > 0)
			return "", nil, err
		}
	}
	ps, err := s.probe(id)
	if err != nil {
		return "", nil, err
	}
	return id, ps, nil
}

// certNames checks that the verified client certificate names the probe.
func certNames(ctx context.Context, id string) error {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "no peer information")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return status.Error(codes.Unauthenticated, "no verified client certificate")
	}
	cert := info.State.VerifiedChains[0][0]
	if cert.Subject.CommonName == id || slices.Contains(cert.DNSNames, id) {
		return nil
	}
	return status.Errorf(codes.PermissionDenied, "client certificate (CN %q, DNS names %q) does not name probe %q", cert.Subject.CommonName, cert.DNSNames, id)
}

func (s *Server) refuseAuth(id string, known bool) {
	if known {
		if ps, err := s.probe(id); err == nil {
			ps.refused[reasonAuth].Add(1)
			return
		}
	}
	s.unknown.refused[reasonAuth].Add(1)
}

// tlsRefused counts a failed TLS handshake: no client certificate, one
// from another CA, or not TLS at all.
func (s *Server) tlsRefused() { s.unknown.refused[reasonAuth].Add(1) }

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// countingCreds counts failed server handshakes.
type countingCreds struct {
	credentials.TransportCredentials
	onFail func()
}

func (c countingCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	nc, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		c.onFail()
	}
	return nc, info, err
}

func (c countingCreds) Clone() credentials.TransportCredentials {
	return countingCreds{c.TransportCredentials.Clone(), c.onFail}
}
