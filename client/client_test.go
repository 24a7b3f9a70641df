package client_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paxos-go/paxos/api"
	"github.com/paxos-go/paxos/client"
	"github.com/paxos-go/paxos/internal/clientwire"
	"github.com/paxos-go/paxos/server"
	"github.com/paxos-go/paxos/server/servertest"
)

func newClient(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func put(t *testing.T, c *client.Client, value string, opts ...client.PutOption) (uint64, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	slot, id, err := c.Put(ctx, value, opts...)
	if err != nil {
		t.Fatalf("Put %q: %v", value, err)
	}
	return slot, id
}

// Through proposers (a follower first: it names the leader) and through
// client nodes, a value lands in the log once; a second Put with the same
// request ID returns the first one's slot.
func TestPutAndDedup(t *testing.T) {
	c := servertest.Start(t, nil)
	leader := c.Leader()
	var follower string
	for _, p := range c.Config.Proposers {
		if p.ID != leader {
			follower = p.Addr
		}
	}
	viaProposers := newClient(t, client.Config{Endpoints: []string{follower, c.Addr(leader)}})
	viaClients := newClient(t, client.Config{Endpoints: servertest.Addrs(c.Config.Clients)})
	s1, id1 := put(t, viaProposers, "one")
	s2, id2 := put(t, viaClients, "two")
	if again, _ := put(t, viaProposers, "one", client.WithRequestID(id1)); again != s1 {
		t.Fatalf("Put again with request ID %s: slot %d, the first was at %d", id1, again, s1)
	}
	if again, _ := put(t, viaProposers, "two", client.WithRequestID(id2)); again != s2 {
		t.Fatalf("Put again with request ID %s (first through a client node): slot %d, the first was at %d", id2, again, s2)
	}
	log := c.Log(max(s1, s2))
	if len(log) != 2 || log[0].RequestID != id1 || log[1].RequestID != id2 || log[0].Slot != s1 || log[1].Slot != s2 {
		t.Fatalf("log %+v, want one at %d (%s) and two at %d (%s)", log, s1, id1, s2, id2)
	}
}

// The leader stops while writes are in flight on the stream, to the
// proposers or through the client nodes (whose own streams to the leader
// then move): every write Put acknowledged is in the log exactly once, at
// the slot it returned.
func TestLeaderChangeMidStream(t *testing.T) {
	t.Run("proposers", func(t *testing.T) { testLeaderChange(t, false) })
	t.Run("client nodes", func(t *testing.T) { testLeaderChange(t, true) })
}

func testLeaderChange(t *testing.T, viaClients bool) {
	c := servertest.Start(t, nil)
	leader := c.Leader()
	endpoints := []string{c.Addr(leader)}
	for _, p := range c.Config.Proposers {
		if p.ID != leader {
			endpoints = append(endpoints, p.Addr)
		}
	}
	if viaClients {
		endpoints = servertest.Addrs(c.Config.Clients)
	}
	cl := newClient(t, client.Config{Endpoints: endpoints})
	var mu sync.Mutex
	acked := map[string]uint64{}
	var count atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				slot, id, err := cl.Put(ctx, fmt.Sprintf("w%d-%d", w, i))
				cancel()
				if err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				mu.Lock()
				acked[id] = slot
				mu.Unlock()
				count.Add(1)
			}
		})
	}
	waitFor := func(n int64) {
		for deadline := time.Now().Add(30 * time.Second); count.Load() < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("only %d writes acknowledged, want %d", count.Load(), n)
			}
		}
	}
	waitFor(200)
	c.Stop(leader)
	waitFor(count.Load() + 200)
	close(stop)
	wg.Wait()
	if c.Leader() == leader {
		t.Fatal("the stopped leader still leads")
	}
	var last uint64
	for _, s := range acked {
		last = max(last, s)
	}
	seen := map[string]uint64{}
	for _, e := range c.Log(last) {
		if s, dup := seen[e.RequestID]; dup {
			t.Errorf("request %s in the log twice: slots %d and %d", e.RequestID, s, e.Slot)
		}
		seen[e.RequestID] = e.Slot
	}
	if len(seen) != len(acked) {
		t.Errorf("%d writes in the log, %d acknowledged (every Put succeeded)", len(seen), len(acked))
	}
	for id, slot := range acked {
		if got, ok := seen[id]; !ok || got != slot {
			t.Errorf("request %s acknowledged at slot %d; the log has it at %d (present: %v)", id, slot, got, ok)
		}
	}
	t.Logf("%d writes acknowledged, %d of them after the leader stopped", len(acked), len(acked)-200)
}

// A connection that breaks after the node chose the write but before its
// answer arrived: Put retries on a new connection with the same request ID,
// and the write takes one slot.
func TestRetryKeepsRequestID(t *testing.T) {
	c := servertest.Start(t, nil)
	leader := c.Addr(c.Leader())
	// The proxy forwards everything but cuts its first connection at the
	// first response frame, after the node chose the write.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", leader)
			if err != nil {
				down.Close()
				continue
			}
			first := conns.Add(1) == 1
			go func() { _, _ = io.Copy(up, down); up.Close() }()
			go func() {
				defer down.Close()
				if !first {
					_, _ = io.Copy(down, up)
					return
				}
				br := bufio.NewReader(up)
				resp, err := http.ReadResponse(br, nil)
				if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
					return
				}
				_, _ = io.WriteString(down, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+clientwire.Protocol+"\r\n\r\n")
				_, _ = br.Peek(5) // the first response: dropped with the connection
				up.Close()
			}()
		}
	}()
	cl := newClient(t, client.Config{Endpoints: []string{ln.Addr().String()}})
	slot, id := put(t, cl, "once")
	if n := conns.Load(); n < 2 {
		t.Fatalf("%d connection(s): the first one should have broken", n)
	}
	log := c.Log(slot)
	if len(log) != 1 || log[0].RequestID != id || log[0].Slot != slot || log[0].Value != "once" {
		t.Fatalf("log %+v; want the one write, request %s, at slot %d", log, id, slot)
	}
}

// blackHole is the address of a listener that takes connections and
// answers nothing; with upgrade, it answers the upgrade and then nothing
// (a node paused with SIGSTOP after the stream was up, as far as a client
// can tell).
func blackHole(t *testing.T, upgrade bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
			if upgrade {
				go func() {
					_, _ = http.ReadRequest(bufio.NewReader(conn))
					_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+clientwire.Protocol+"\r\n\r\n")
					_, _ = io.Copy(io.Discard, conn)
				}()
			}
		}
	}()
	return ln.Addr().String()
}

// Put returns soon after its context ends, with ErrTimeout, when the node
// never answers: neither the upgrade, nor a write on the stream.
func TestDeadline(t *testing.T) {
	for _, upgrade := range []bool{false, true} {
		t.Run(fmt.Sprintf("upgrade=%v", upgrade), func(t *testing.T) {
			cl := newClient(t, client.Config{Endpoints: []string{blackHole(t, upgrade)}, DialTimeout: time.Minute})
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, id, err := cl.Put(ctx, "lost")
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("Put took %s with a deadline of 300ms", took)
			}
			if !errors.Is(err, client.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), id) {
				t.Fatalf("Put past its deadline: %v; want ErrTimeout and DeadlineExceeded naming request %s", err, id)
			}
		})
	}
}

// A node that stops answering on an open stream (paused) costs a write one
// AttemptTimeout: Put then goes on to the next endpoint.
func TestHungNode(t *testing.T) {
	c := servertest.Start(t, nil)
	cl := newClient(t, client.Config{Endpoints: []string{blackHole(t, true), c.Addr(c.Leader())}, AttemptTimeout: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	if _, _, err := cl.Put(ctx, "v"); err != nil {
		t.Fatalf("Put with the first endpoint hung: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("Put took %s with the first endpoint hung and AttemptTimeout 300ms", took)
	}
}

// Refusals that no retry changes come back at once, typed.
func TestRefusals(t *testing.T) {
	c := servertest.Start(t, func(cfg *server.Config) { cfg.ClientToken = "tok"; cfg.MaxValueBytes = 1024; cfg.MaxLearnerLag = 20 })
	endpoints := servertest.Addrs(c.Config.Proposers)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, _, err := newClient(t, client.Config{Endpoints: endpoints}).Put(ctx, "x"); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("Put without the token: %v, want ErrUnauthorized", err)
	}
	cl := newClient(t, client.Config{Endpoints: endpoints, Token: "tok"})
	for _, tc := range []struct {
		value string
		opts  []client.PutOption
		want  error
	}{
		{strings.Repeat("v", 1025), nil, client.ErrTooLarge},
		{"", nil, client.ErrBadRequest},
		{"force_election", nil, client.ErrBadRequest},
		{"v", []client.PutOption{client.WithRequestID(strings.Repeat("r", 257))}, client.ErrBadRequest},
	} {
		if _, _, err := cl.Put(ctx, tc.value, tc.opts...); !errors.Is(err, tc.want) {
			t.Errorf("Put %.20q: %v, want %v", tc.value, err, tc.want)
		}
	}
	put(t, cl, "fine")
	// Client nodes take the same token, and pass it on to the leader.
	clients := servertest.Addrs(c.Config.Clients)
	if _, _, err := newClient(t, client.Config{Endpoints: clients}).Put(ctx, "x"); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("Put through a client node without the token: %v, want ErrUnauthorized", err)
	}
	put(t, newClient(t, client.Config{Endpoints: clients, Token: "tok"}), "via a client node")
	c.Stop(8) // learner2: the log runs ahead of it until LEARNER_LAG
	for i := 0; ; i++ {
		_, _, err := cl.Put(ctx, fmt.Sprintf("lagging-%d", i))
		var alarm *client.AlarmError
		if errors.As(err, &alarm) {
			if alarm.Alarm != server.AlarmLearnerLag || !errors.Is(err, client.ErrUnavailable) {
				t.Fatalf("alarm %+v (%v)", alarm, err)
			}
			break
		}
		if err != nil || i > 100 {
			t.Fatalf("write %d with learner2 down and MaxLearnerLag 20: %v", i, err)
		}
	}
}

// TestErrNotLeader: the client's not-leader error, and a 409 refusal, are
// api.ErrNotLeader to errors.Is, as the node's error is; the text stays the
// client's.
func TestErrNotLeader(t *testing.T) {
	refused := &client.StatusError{Endpoint: "127.0.0.1:1", Code: http.StatusConflict, Message: "Not the leader"}
	for _, err := range []error{client.ErrNotLeader, refused, fmt.Errorf("%w: %w", client.ErrTimeout, refused)} {
		if !errors.Is(err, api.ErrNotLeader) || !errors.Is(err, client.ErrNotLeader) {
			t.Errorf("%v: errors.Is api.ErrNotLeader %v, client.ErrNotLeader %v, want both", err,
				errors.Is(err, api.ErrNotLeader), errors.Is(err, client.ErrNotLeader))
		}
	}
	if other := (&client.StatusError{Code: http.StatusServiceUnavailable}); errors.Is(other, api.ErrNotLeader) {
		t.Errorf("a 503 is api.ErrNotLeader to errors.Is")
	}
	if got := client.ErrNotLeader.Error(); got != "client: not the leader" {
		t.Errorf("client.ErrNotLeader says %q", got)
	}
}

// A frame the node cannot decode closes the stream after an answer with tag
// 0 that says why; so does a frame over the size limit.
func TestBadFrames(t *testing.T) {
	c := servertest.Start(t, nil)
	addr := c.Addr(c.Leader())
	for _, tc := range []struct {
		name  string
		frame []byte
		code  int
		says  string
	}{
		{"garbage", []byte{0, 0, 0, 3, 'x', 'y', 'z'}, 400, "request frame"},
		{"truncated", clientwire.AppendRequest(nil, clientwire.Request{Tag: 1, Value: "v"})[:9], 400, "request frame"},
		{"tag 0", clientwire.AppendRequest(nil, clientwire.Request{Value: "v"}), 400, "tag 0"},
		{"huge", binary.BigEndian.AppendUint32(nil, 1<<31), 413, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", clientwire.Path, clientwire.Protocol)
			br := bufio.NewReader(conn)
			if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
				t.Fatalf("upgrade: %v %v", resp, err)
			}
			fix := tc.frame
			if tc.name == "truncated" {
				binary.BigEndian.PutUint32(fix, uint32(len(fix)-4)) // a whole frame whose fields end early
			}
			if _, err := conn.Write(fix); err != nil {
				t.Fatal(err)
			}
			body, err := clientwire.ReadFrame(br, clientwire.MaxResponseBytes, nil, nil)
			if err != nil {
				t.Fatalf("no answer to a bad frame: %v", err)
			}
			r, err := clientwire.DecodeResponse(body)
			if err != nil || r.Tag != 0 || r.Code != tc.code || !strings.Contains(r.Error, tc.says) {
				t.Fatalf("answer %+v (%v); want tag 0, %d, saying %q", r, err, tc.code, tc.says)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("the stream stays open after a bad frame: %v", err)
			}
		})
	}
}
