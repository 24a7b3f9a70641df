package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/gossip"
)

// gossipKeysPath is the internal endpoint of the gossip keyring (package
// gossip, keys.go): GET the keys, POST {"op":"install|use|remove","key":...}.
const gossipKeysPath = "/gossip/keys"

// gossipKeyChange is the body of POST /gossip/keys.
type gossipKeyChange struct {
	Op  string `json:"op"`
	Key string `json:"key"`
}

// handleGossipKeys serves GET /gossip/keys.
func (s *Server) handleGossipKeys(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	kr := s.keyring()
	if kr == nil {
		writeError(w, fmt.Errorf("%w: %v", ErrBadRequest, gossip.ErrNoEncryption), nil)
		return
	}
	keys := kr.Keys()
	writeJSON(w, http.StatusOK, s.keysReply(keys, ""))
}

// changeGossipKey serves POST /gossip/keys.
func (s *Server) changeGossipKey(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req gossipKeyChange
	if err := decodeJSON(w, r, 4<<10, &req); err != nil {
		writeError(w, err, nil)
		return
	}
	kr := s.keyring()
	if kr == nil {
		writeError(w, fmt.Errorf("%w: %v", ErrBadRequest, gossip.ErrNoEncryption), nil)
		return
	}
	key, err := gossip.DecodeKey(req.Key)
	if err != nil {
		writeError(w, fmt.Errorf("%w: %v", ErrBadRequest, err), nil)
		return
	}
	keys, err := kr.Change(req.Op, key)
	var bad *gossip.KeyChangeError
	if errors.As(err, &bad) {
		err = fmt.Errorf("%w: %s", ErrBadRequest, bad.Msg)
	}
	if err != nil {
		s.log.Warn("gossip keyring not changed", "op", req.Op, "key", gossip.KeyFingerprint(key), "err", err)
		writeError(w, err, nil)
		return
	}
	s.log.Info("gossip keyring changed", "op", req.Op, "key", gossip.KeyFingerprint(key),
		"primary", kr.PrimaryFingerprint(), "keys", len(keys.Keys))
	writeJSON(w, http.StatusOK, s.keysReply(keys, req.Op))
}

func (s *Server) keysReply(keys gossip.Keys, op string) api.GossipKeysReply {
	id := s.identity()
	return api.GossipKeysReply{ID: id.ID, Name: id.Name, Role: id.Role, Status: "ok", Op: op,
		Primary: keys.Primary, Keys: keys.Keys, Fingerprints: keys.Fingerprints}
}

// keyring is this node's gossip keyring, nil without encryption.
func (s *Server) keyring() *gossip.Keyring {
	if s.gossip == nil {
		return nil
	}
	return s.gossip.Keyring()
}
