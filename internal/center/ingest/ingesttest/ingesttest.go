// Package ingesttest has what tests of the ingest server and of the
// probe's exporter share: certificate authorities made on the fly, and an
// in-memory Handler that deduplicates by (probe, spool ID, seq) the way a
// store's Write does.
package ingesttest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirewatch/wirewatch/internal/record"
)

// CA is a certificate authority made for one test.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial atomic.Int64

// NewCA makes a CA valid for an hour.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: cert, key: key}
}

// Server signs a server certificate for 127.0.0.1 (IP SAN) and localhost.
func (ca *CA) Server(t testing.TB) tls.Certificate {
	return ca.issue(t, true, "wirewatch-center", "localhost")
}

// Client signs a client certificate with the given CN and DNS SANs.
func (ca *CA) Client(t testing.TB, cn string, dns ...string) tls.Certificate {
	return ca.issue(t, false, cn, dns...)
}

func (ca *CA) issue(t testing.TB, server bool, cn string, dns ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     dns,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Pool is a pool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// WriteCA writes the CA certificate as PEM into dir and returns the path.
func (ca *CA) WriteCA(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, ca.Cert.Subject.CommonName+"-ca.crt")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// WritePair writes a certificate and its key as PEM files into dir.
func WritePair(t testing.TB, dir, name string, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	certFile = filepath.Join(dir, name+".crt")
	keyFile = filepath.Join(dir, name+".key")
	kder, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// Store is an in-memory stand-in for the center's store: its Handle
// deduplicates by (probe, spool ID, seq) as store.Store.Write does, and
// it outlives any server it is given to, like a real store.
type Store struct {
	mu      sync.Mutex
	last    map[[2]string]uint64 // by probe, spool ID
	batches []*record.Batch
	dups    int
	// Fail, when set, is called before a batch is stored; an error it
	// returns is the Handler's.
	Fail func(b *record.Batch) error
}

// Handle is an ingest.Handler.
func (s *Store) Handle(_ context.Context, b *record.Batch) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != nil {
		if err := s.Fail(b); err != nil {
			return false, err
		}
	}
	if s.last == nil {
		s.last = make(map[[2]string]uint64)
	}
	key := [2]string{b.Probe.ID, b.SpoolID}
	if b.Seq <= s.last[key] {
		s.dups++
		return true, nil
	}
	s.last[key] = b.Seq
	s.batches = append(s.batches, b)
	return false, nil
}

// Batches returns the stored batches in the order they were stored.
func (s *Store) Batches() []*record.Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*record.Batch(nil), s.batches...)
}

// Duplicates is how many batches Handle found stored before.
func (s *Store) Duplicates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dups
}
