// Package pki makes and reads the certificates of a paxos cluster: one CA,
// one certificate per node naming the node in a URI SAN (paxos://node/ID),
// and client certificates that name no node. Standard library only.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// NodeScheme and nodeHost make a node's URI SAN: paxos://node/ID.
const (
	NodeScheme = "paxos"
	nodeHost   = "node"
)

// NodeURI returns the URI that names node id in its certificate.
func NodeURI(id uint64) *url.URL {
	return &url.URL{Scheme: NodeScheme, Host: nodeHost, Path: "/" + strconv.FormatUint(id, 10)}
}

// NodeID returns the node a certificate names (its paxos://node/ID URI
// SAN), or false when it names none (a client's) or more than one.
func NodeID(cert *x509.Certificate) (uint64, bool) {
	var id uint64
	found := false
	for _, u := range cert.URIs {
		if u.Scheme != NodeScheme || u.Host != nodeHost {
			continue
		}
		digits, ok := strings.CutPrefix(u.Path, "/")
		n, err := strconv.ParseUint(digits, 10, 64)
		if !ok || err != nil || n == 0 || found {
			return 0, false
		}
		id, found = n, true
	}
	return id, found
}

// CA is a certificate authority that issues the cluster's certificates.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// CertPEM and KeyPEM are the CA's certificate and key, PEM-encoded.
	CertPEM, KeyPEM []byte
}

// Spec describes one certificate to issue.
type Spec struct {
	// CommonName is the node's name (acceptor1) or the client's.
	CommonName string
	// NodeID, when not 0, is written as the URI SAN paxos://node/NodeID:
	// the identity the node speaks with. A client certificate has none.
	NodeID uint64
	// DNSNames and IPs are the names the node is reached at.
	DNSNames []string
	IPs      []net.IP
	// NotBefore and NotAfter bound the validity.
	NotBefore, NotAfter time.Time
}

// NewCA makes a CA named name, valid from notBefore to notAfter.
func NewCA(name string, notBefore, notAfter time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name, Organization: []string{"paxos"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	certPEM, cert, err := sign(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// Issue makes a key and a certificate for spec, signed by the CA, usable
// both to serve and to dial (a node is both a server and a client of its
// peers). It returns them PEM-encoded.
func (ca *CA) Issue(spec Spec) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: spec.CommonName, Organization: []string{"paxos"}},
		NotBefore:   spec.NotBefore,
		NotAfter:    spec.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    spec.DNSNames,
		IPAddresses: spec.IPs,
	}
	if spec.NodeID != 0 {
		tmpl.URIs = []*url.URL{NodeURI(spec.NodeID)}
	}
	if certPEM, _, err = sign(tmpl, ca.Cert, &key.PublicKey, ca.key); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = encodeKey(key); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

func sign(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) ([]byte, *x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the certificate of %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert, nil
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ErrExists is WriteFile's refusal to replace a file without force.
var ErrExists = errors.New("file exists (use --force to replace it)")

// WriteFile writes data to path with mode 0600. Without force it refuses to
// replace an existing file (ErrExists); with force it replaces it, and the
// file ends with mode 0600 whatever it had.
func WriteFile(path string, data []byte, force bool) error {
	flag := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flag, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w", path, ErrExists)
	}
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
