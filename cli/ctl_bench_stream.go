package cli

import (
	"context"
	"errors"
	"strconv"

	"github.com/paxos-go/paxos/client"
)

// openStreams makes bench send over client streams (package client) to
// addrs: for --target proposer one client whose endpoints are the leader
// then the other proposers, for --target client one client per client node
// (worker w uses the (w mod n)-th). With --protocol auto, nodes that serve
// no stream (an older version) leave bench on HTTP: it returns false.
func (b *bencher) openStreams(ctx context.Context, addrs []string) (bool, error) {
	groups := [][]string{addrs}
	if b.cfg.Target == "client" {
		groups = groups[:0]
		for i := range addrs {
			groups = append(groups, append(append([]string(nil), addrs[i:]...), addrs[:i]...))
		}
	}
	for _, eps := range groups {
		cl, err := client.New(client.Config{Endpoints: eps, Token: b.env.client.token, TLS: b.env.client.tlsConfig(),
			DialTimeout: b.env.client.timeout})
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, b.env.client.timeout)
			err = cl.Connect(cctx)
			cancel()
		}
		if err != nil {
			b.closeStreams()
			if b.cfg.Protocol == "auto" && errors.Is(err, client.ErrNoStream) {
				return false, nil
			}
			return false, err
		}
		b.streams = append(b.streams, cl)
	}
	return true, nil
}

func (b *bencher) closeStreams() {
	for _, cl := range b.streams {
		cl.Close()
	}
	b.streams = nil
}

// streamOp runs one operation over worker's stream. Put retries by itself
// (same request ID) within benchAttempts request timeouts; a failed
// operation counts its last error.
func (b *bencher) streamOp(ctx context.Context, clientID uint64, id, value string) error {
	cl := b.streams[int(clientID-benchClientIDBase)%len(b.streams)]
	octx, cancel := context.WithTimeout(ctx, benchAttempts*b.env.client.timeout)
	defer cancel()
	_, _, err := cl.Put(octx, value, client.WithRequestID(id), client.WithClientID(clientID))
	if err != nil && ctx.Err() == nil {
		b.countErr(streamErrKind(err))
	}
	return err
}

// streamErrKind is errKind for the errors of package client.
func streamErrKind(err error) string {
	var se *client.StatusError
	var ae *client.AlarmError
	switch {
	case errors.As(err, &ae):
		return "503"
	case errors.Is(err, client.ErrTimeout):
		return "timeout"
	case errors.As(err, &se):
		return strconv.Itoa(se.Code)
	}
	return "connection"
}
