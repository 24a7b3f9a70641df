package server

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// advertiseResolveFor bounds how long a node waits at start for the name it
// advertises to resolve (in Swarm and Kubernetes a task's or pod's own
// name may appear in DNS a moment after it starts).
const advertiseResolveFor = 10 * time.Second

// gossipAdvertise is the address and port memberlist advertises (port 0:
// the bound port; "" address: memberlist's own pick).
//   - GossipAdvertise, HOST or HOST:PORT: that host (a name is resolved);
//     one that does not resolve is an error.
//   - else Advertise (ADVERTISE_HOST): that host; a name that does not
//     resolve leaves the choice to memberlist, with a warning.
//   - else the host of this node's topology address, when it is an IP.
func (s *Server) gossipAdvertise(ctx context.Context) (string, int, error) {
	host, port, explicit := s.cfg.GossipAdvertise, 0, true
	if host != "" {
		if h, p, err := net.SplitHostPort(host); err == nil {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return "", 0, fmt.Errorf("GOSSIP_ADVERTISE %q: bad port", s.cfg.GossipAdvertise)
			}
			host, port = h, n
		}
	} else if host, explicit = s.cfg.Advertise, false; host == "" {
		h, _, _ := net.SplitHostPort(s.selfAddr())
		if net.ParseIP(h) == nil {
			return "", 0, nil
		}
		host = h
	}
	ip, err := resolveHost(ctx, host, advertiseResolveFor)
	switch {
	case err != nil && explicit:
		return "", 0, fmt.Errorf("GOSSIP_ADVERTISE %q: %w", s.cfg.GossipAdvertise, err)
	case err != nil:
		s.log.Warn("gossip: the advertised host does not resolve; memberlist picks an address (set GOSSIP_ADVERTISE)", "host", host, "err", err)
		return "", 0, nil
	}
	return ip, port, nil
}

// resolveHost returns host if it is an IP, else its first IPv4 address (or
// first address), trying again until it resolves, d has passed or ctx ends.
func resolveHost(ctx context.Context, host string, d time.Duration) (string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip.String(), nil
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err == nil && len(addrs) > 0 {
			for _, a := range addrs {
				if a.IP.To4() != nil {
					return a.IP.String(), nil
				}
			}
			return addrs[0].IP.String(), nil
		}
		if err == nil {
			err = fmt.Errorf("%s has no address", host)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("resolve %s: %w", host, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
