package gossip

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/memberlist"
)

// Gossip encryption keys (issue 19). The cluster secret seeds memberlist's
// keyring with one key, sha256(secret). The keyring then changes without a
// restart, on every node, through the internal endpoint
//
//	GET  /gossip/keys                                  the keys, primary first
//	POST /gossip/keys {"op":"install|use|remove","key":"<base64>"}
//
// which paxosctl gossip key drives on every node at once. memberlist
// encrypts with the primary key and tries every installed key on what it
// receives, so a rotation that loses no message is: install the new key
// on every node, use it on every node, remove the old one from every node.
// Each change is written to the node's data dir (KeyringFile, 0600)
// and a restarted node starts from that file rather than from the secret,
// so it still speaks the current key. No key is ever logged, only its
// fingerprint (KeyFingerprint).

// KeyringFile is the keyring's file in a node's data dir.
const KeyringFile = "gossip-keyring.json"

// The operations of a keyring change (Keyring.Change, POST /gossip/keys).
const (
	KeyInstall = "install"
	KeyUse     = "use"
	KeyRemove  = "remove"
)

// ErrKey is a key that is not base64 of 16, 24 or 32 bytes.
var ErrKey = errors.New("a gossip key is 16, 24 or 32 bytes (AES-128, -192 or -256) in standard base64")

// ErrNoEncryption is a keyring change on a node whose gossip is not
// encrypted (no cluster secret).
var ErrNoEncryption = errors.New("gossip encryption is off on this node (no CLUSTER_SECRET): there is no keyring to change")

// DecodeKey decodes a gossip key from standard base64 and checks its
// length.
func DecodeKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64 (%v)", ErrKey, err)
	}
	switch len(k) {
	case 16, 24, 32:
		return k, nil
	}
	return nil, fmt.Errorf("%w: this one is %d bytes", ErrKey, len(k))
}

// KeyFingerprint names a key in logs and answers without showing it:
// the first 8 bytes of its SHA-256, in hex.
func KeyFingerprint(k []byte) string {
	sum := sha256.Sum256(k)
	return hex.EncodeToString(sum[:8])
}

// Keys is a node's keyring: the primary key and every installed
// key (primary first), in base64, with their fingerprints.
type Keys struct {
	Primary      string   `json:"primary"`
	Keys         []string `json:"keys"`
	Fingerprints []string `json:"fingerprints"`
}

// Keyring is a node's memberlist keyring and its file.
type Keyring struct {
	file string // "" keeps it in memory only
	mu   sync.Mutex
	kr   *memberlist.Keyring
}

// openKeyring returns the keyring memberlist starts with: the
// node's file when there is one, else sha256(secret), else nil (no
// encryption).
func openKeyring(file, secret string) (*Keyring, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		switch {
		case err == nil:
			var saved Keys
			if err := json.Unmarshal(data, &saved); err != nil {
				return nil, fmt.Errorf("gossip keyring %s: %w", file, err)
			}
			primary, err := DecodeKey(saved.Primary)
			if err != nil {
				return nil, fmt.Errorf("gossip keyring %s: primary key: %w", file, err)
			}
			var keys [][]byte
			for _, s := range saved.Keys {
				k, err := DecodeKey(s)
				if err != nil {
					return nil, fmt.Errorf("gossip keyring %s: %w", file, err)
				}
				keys = append(keys, k)
			}
			kr, err := memberlist.NewKeyring(keys, primary)
			if err != nil {
				return nil, fmt.Errorf("gossip keyring %s: %w", file, err)
			}
			return &Keyring{file: file, kr: kr}, nil
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("gossip keyring: %w", err)
		}
	}
	if secret == "" {
		return nil, nil
	}
	key := sha256.Sum256([]byte(secret))
	kr, err := memberlist.NewKeyring(nil, key[:])
	if err != nil {
		return nil, err
	}
	return &Keyring{file: file, kr: kr}, nil
}

// keys returns the keyring as it is; k.mu is held.
func (k *Keyring) keys() Keys {
	primary := k.kr.GetPrimaryKey()
	out := Keys{Primary: base64.StdEncoding.EncodeToString(primary)}
	for _, key := range k.kr.GetKeys() { // primary first
		out.Keys = append(out.Keys, base64.StdEncoding.EncodeToString(key))
		out.Fingerprints = append(out.Fingerprints, KeyFingerprint(key))
	}
	return out
}

// KeyChangeError is a keyring change that cannot be made (an unknown op,
// using a key that is not installed, removing the primary key): the
// caller's mistake, not the node's.
type KeyChangeError struct{ Msg string }

func (e *KeyChangeError) Error() string { return e.Msg }

func keyChangeErr(format string, args ...any) error {
	return &KeyChangeError{Msg: fmt.Sprintf(format, args...)}
}

// Keys returns the keyring as it is.
func (k *Keyring) Keys() Keys {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys()
}

// PrimaryFingerprint is the fingerprint of the key gossip encrypts with.
func (k *Keyring) PrimaryFingerprint() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return KeyFingerprint(k.kr.GetPrimaryKey())
}

// Change applies op with key and saves the keyring. Installing a key that
// is there, using the primary key and removing a key that is not there
// change nothing and succeed, so a fan-out may be repeated.
func (k *Keyring) Change(op string, key []byte) (Keys, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var err error
	switch op {
	case KeyInstall:
		err = k.kr.AddKey(key)
	case KeyUse:
		if !k.installed(key) {
			return Keys{}, keyChangeErr("key %s is not installed on this node: install it first", KeyFingerprint(key))
		}
		err = k.kr.UseKey(key)
	case KeyRemove:
		if string(key) == string(k.kr.GetPrimaryKey()) {
			return Keys{}, keyChangeErr("key %s is the primary key of this node: use another first", KeyFingerprint(key))
		}
		if k.installed(key) {
			err = k.kr.RemoveKey(key)
		}
	default:
		return Keys{}, keyChangeErr("op %q: want %s, %s or %s", op, KeyInstall, KeyUse, KeyRemove)
	}
	if err != nil {
		return Keys{}, keyChangeErr("%v", err)
	}
	return k.keys(), k.save()
}

func (k *Keyring) installed(key []byte) bool {
	for _, have := range k.kr.GetKeys() {
		if string(have) == string(key) {
			return true
		}
	}
	return false
}

// save writes the keyring to its file (0600), atomically.
func (k *Keyring) save() error {
	if k.file == "" {
		return nil
	}
	data, err := json.Marshal(k.keys())
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(k.file), KeyringFile+".*")
	if err != nil {
		return fmt.Errorf("saving the gossip keyring: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), k.file)
	}
	if err != nil {
		return fmt.Errorf("saving the gossip keyring: %w", err)
	}
	return nil
}
