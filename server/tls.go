package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"

	"github.com/paxos-go/paxos/internal/pki"
	"github.com/paxos-go/paxos/replog"
)

// Transport security (issue 19). With Config.CertFile, KeyFile and
// TrustedCAFile set, the API port speaks only TLS:
//
//   - the node serves its certificate to everyone (the client API stays
//     open to any TLS client, with a client certificate or without);
//   - a client certificate, when one is presented, must be signed by the
//     trusted CA and valid now, or the handshake fails and is logged;
//   - internal endpoints demand one (401 without), and the node a
//     certificate names in its URI SAN paxos://node/ID is the sender of
//     whatever comes on the connection (peerIdentity): a frame or a JSON
//     body that speaks for another node is refused;
//   - the node dials its peers (message streams, forwarding) with its
//     certificate and checks theirs: signed by the CA, valid for the
//     address dialed, and, on a message stream, naming the node dialed.
//
// The three files are read at every handshake, so certificates and the
// CA rotate without a restart: new connections use the new files. A file
// that cannot be read or parsed (half-written during a rotation) leaves
// the last good set in use, and is logged.

// nodeTLS reads a node's TLS files.
type nodeTLS struct {
	certFile, keyFile, caFile string
	log                       *slog.Logger
	warns                     *logLimiter

	mu   sync.Mutex
	cert *tls.Certificate // the last good set
	pool *x509.CertPool
}

// newNodeTLS reads the files once, so a node with unreadable files, or a
// certificate that names another node, does not start.
func newNodeTLS(cfg *Config, log *slog.Logger, warns *logLimiter) (*nodeTLS, error) {
	t := &nodeTLS{certFile: cfg.CertFile, keyFile: cfg.KeyFile, caFile: cfg.TrustedCAFile, log: log, warns: warns}
	cert, _, err := t.read()
	if err != nil {
		return nil, err
	}
	if id, ok := pki.NodeID(cert.Leaf); !ok || replog.ID(id) != cfg.ID {
		return nil, fmt.Errorf("%s: the certificate of %q names node %d (URI SAN %s://node/ID), this is node %d",
			cfg.CertFile, cert.Leaf.Subject.CommonName, id, pki.NodeScheme, cfg.ID)
	}
	return t, nil
}

// read reads the three files.
func (t *nodeTLS) read() (*tls.Certificate, *x509.CertPool, error) {
	cert, err := tls.LoadX509KeyPair(t.certFile, t.keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("TLS certificate %s, key %s: %w", t.certFile, t.keyFile, err)
	}
	caPEM, err := os.ReadFile(t.caFile)
	if err != nil {
		return nil, nil, fmt.Errorf("trusted CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, fmt.Errorf("trusted CA %s: no PEM certificate in it", t.caFile)
	}
	return &cert, pool, nil
}

// current returns the files as they are now, or the last good set when
// they cannot be read.
func (t *nodeTLS) current() (*tls.Certificate, *x509.CertPool) {
	cert, pool, err := t.read()
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.warns.warn(t.log, "tls-files", "cannot read the TLS files: still using the last good ones", "err", err)
		if t.cert == nil {
			return nil, nil
		}
		return t.cert, t.pool
	}
	t.cert, t.pool = cert, pool
	return cert, pool
}

// serverConfig is the API listener's TLS configuration.
func (t *nodeTLS) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			cert, pool := t.current()
			if cert == nil {
				return nil, errors.New("no TLS certificate")
			}
			remote := hello.Conn.RemoteAddr().String()
			return &tls.Config{
				MinVersion:   tls.VersionTLS12,
				Certificates: []tls.Certificate{*cert},
				// Message streams hijack HTTP/1.1 connections.
				NextProtos: []string{"http/1.1"},
				// Requested, checked when given (below), demanded by
				// internal endpoints only.
				ClientAuth: tls.RequestClientCert,
				VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
					if len(raw) == 0 {
						return nil
					}
					leaf, err := verifyChain(raw, pool, x509.ExtKeyUsageClientAuth)
					if err != nil {
						t.warns.warn(t.log, "tls-client "+certFault(err), "refused a TLS client certificate",
							"remote", remote, "subject", subjectOf(leaf), "err", err)
					}
					return err
				},
			}, nil
		},
	}
}

// clientConfig is the configuration to dial addr with: the node's
// certificate, the trusted CA, the host of addr as the name to verify and,
// when want is not replog.None, the node the peer's certificate must name.
func (t *nodeTLS) clientConfig(addr string, want replog.ID) (*tls.Config, error) {
	cert, pool := t.current()
	if cert == nil {
		return nil, errors.New("no TLS certificate")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cert}, RootCAs: pool,
		ServerName: hostOf(addr), NextProtos: []string{"http/1.1"}}
	if want != replog.None {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if id, ok := pki.NodeID(cs.PeerCertificates[0]); !ok || replog.ID(id) != want {
				return fmt.Errorf("%s answers with the certificate of %q (node %d), not of node %d",
					addr, cs.PeerCertificates[0].Subject.CommonName, id, want)
			}
			return nil
		}
	}
	return cfg, nil
}

// httpTransport is an HTTP transport that dials with the node's current
// certificate (reloaded for every new connection).
func (t *nodeTLS) httpTransport(base *http.Transport) *http.Transport {
	base.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		cfg, err := t.clientConfig(addr, replog.None)
		if err != nil {
			return nil, err
		}
		d := &tls.Dialer{Config: cfg}
		return d.DialContext(ctx, network, addr)
	}
	return base
}

// verifyChain checks a client's certificate chain (raw, leaf first)
// against pool for usage, now, and returns the parsed leaf.
func verifyChain(raw [][]byte, pool *x509.CertPool, usage x509.ExtKeyUsage) (*x509.Certificate, error) {
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, fmt.Errorf("malformed certificate: %w", err)
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}})
	return certs[0], err
}

// tlsPeer returns the node named by the verified client certificate of r,
// or an error saying why there is none.
func tlsPeer(r *http.Request) (replog.ID, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return replog.None, fmt.Errorf("%w: this endpoint needs a node's TLS client certificate, and the connection has none", ErrUnauthorized)
	}
	leaf := r.TLS.PeerCertificates[0]
	id, ok := pki.NodeID(leaf)
	if !ok {
		return replog.None, fmt.Errorf("%w: the TLS client certificate of %q names no node (URI SAN %s://node/ID)",
			ErrUnauthorized, leaf.Subject.CommonName, pki.NodeScheme)
	}
	return replog.ID(id), nil
}

// certFault names the kind of a certificate's fault, a few keys for the
// log limiter (remote addresses would be unbounded).
func certFault(err error) string {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return "unknown-authority"
	case errors.As(err, &invalid):
		return "invalid-" + strconv.Itoa(int(invalid.Reason))
	}
	return "other"
}

func subjectOf(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	return c.Subject.CommonName
}

// hostOf returns the host of a host:port, or addr itself.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
