package replogtest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/paxos-go/paxos/replog"
)

// Env is a cluster driven one command at a time, for scripts (RunScript
// with Env.Handle). Its network delivers only when told to (deliver,
// stabilize), in the order messages were sent, so a script decides every
// interleaving. Every command prints the Readys it caused (DescribeReady).
type Env struct {
	Nodes  map[replog.ID]*Node
	Net    *Network
	stores Stores
	ids    []replog.ID // every node, in ID order
	down   map[replog.ID]bool
	out    []string
}

// Stores makes new, empty stores for an Env's nodes. Each must be a
// Store and the role's replog storage; a new acceptor store must say
// replog.RejoinPending.
type Stores struct {
	Proposer, Acceptor, Learner func() Store
}

// MemStores are replogtest's memory stores.
var MemStores = Stores{
	Proposer: func() Store { return NewProposerStore() },
	Acceptor: func() Store { return NewAcceptorStore() },
	Learner:  func() Store { return NewLearnerStore() },
}

// NewEnv returns an empty Env whose nodes will keep their state in stores
// made by stores; the script's cluster command fills it.
func NewEnv(stores Stores) *Env {
	return &Env{Nodes: map[replog.ID]*Node{}, Net: NewNetwork(nil), stores: stores, down: map[replog.ID]bool{}}
}

// Handle runs one script command and returns what it printed. The
// commands (N is a node ID, N,N,... a list of them):
//
//	cluster [proposers=1,2,3] [acceptors=4,5,6] [learners=7,8]
//	campaign N [unforced]   Proposer.Campaign (or CampaignUnforced)
//	propose N ID=VALUE...   Proposer.Propose
//	read N CTX              Proposer.ReadIndex
//	tick N,... [n=K]        K ticks (default 1) of each node
//	send N TYPE [from=N] [b=B] [slot=S] [commit=C] [compact=C] [probe=P]
//	     [force] [truncated] [slots=S,...] [entries=E,...]
//	                        steps a message into N; an entry is
//	                        SLOT:ID=VALUE[@BALLOT] or SLOT:noop[@BALLOT]
//	deliver [from=N,...] [to=N,...] [type=TYPE] [n=K]
//	                        delivers the (first K) messages in flight that match
//	drop [from=N,...] [to=N,...] [type=TYPE]
//	stabilize               delivers until no message is in flight
//	crash N,...             the node stops: messages to it are lost
//	restart N,...           the node starts anew from its store
//	lose-disk N             acceptor N restarts with new storage
//	partition N,... N,...   messages cross only within a group
//	heal                    one network again
//	pending                 the messages in flight
//	print-state [N,...]     each node's state (DescribeNode)
func (e *Env) Handle(c Cmd) string {
	e.out = nil
	if err := e.handle(c); err != nil {
		e.printf("error: %v", err)
	}
	return strings.Join(e.out, "\n")
}

func (e *Env) printf(format string, args ...any) { e.out = append(e.out, fmt.Sprintf(format, args...)) }

func (e *Env) handle(c Cmd) error {
	words := c.Words()
	arg := func(i int) string {
		if i < len(words) {
			return words[i]
		}
		return ""
	}
	switch c.Name {
	case "cluster":
		return e.cluster(c)
	case "campaign":
		p, err := e.proposer(arg(0))
		if err != nil {
			return err
		}
		if c.Has("unforced") {
			p.Proposer.CampaignUnforced()
		} else {
			p.Proposer.Campaign()
		}
		return e.process(p)
	case "propose":
		p, err := e.proposer(arg(0))
		if err != nil {
			return err
		}
		for _, a := range c.Args[1:] {
			if err := p.Proposer.Propose(replog.Command{ClientID: 9, RequestID: a.Key, Value: a.Val}); err != nil {
				e.printf("propose %s: %v", a.Key, err)
			}
		}
		return e.process(p)
	case "read":
		p, err := e.proposer(arg(0))
		if err != nil {
			return err
		}
		ctx, err := strconv.ParseUint(arg(1), 10, 64)
		if err != nil {
			return err
		}
		p.Proposer.ReadIndex(ctx)
		return e.process(p)
	case "tick":
		return e.tick(c, arg(0))
	case "send":
		return e.send(c, arg(0), arg(1))
	case "deliver", "drop":
		match, err := e.match(c)
		if err != nil {
			return err
		}
		taken := e.Net.Take(match)
		if c.Name == "drop" {
			for _, m := range taken {
				e.printf("dropped %s", DescribeMessage(m))
			}
			return nil
		}
		return e.deliver(taken)
	case "stabilize":
		return e.Stabilize()
	case "crash", "restart", "lose-disk":
		ids, err := e.list(arg(0))
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := e.restart(c.Name, id); err != nil {
				return err
			}
		}
		return nil
	case "partition":
		for g, w := range words {
			ids, err := e.list(w)
			if err != nil {
				return err
			}
			for _, id := range ids {
				e.Net.SetGroup(id, g+1)
			}
		}
		return nil
	case "heal":
		e.Net.Heal()
		return nil
	case "pending":
		for i := range e.Net.Len() {
			e.printf("%s", DescribeMessage(e.Net.InFlight(i)))
		}
		return nil
	case "print-state":
		ids := e.ids
		if w := arg(0); w != "" {
			var err error
			if ids, err = e.list(w); err != nil {
				return err
			}
		}
		for _, id := range ids {
			if e.down[id] {
				e.printf("%d: down", id)
			} else {
				e.printf("%s", DescribeNode(e.Nodes[id]))
			}
		}
		return nil
	}
	return fmt.Errorf("unknown command %q", c.Name)
}

// cluster builds the nodes. Acceptors start as in a new cluster whose
// rejoin rule has decided (they vote at once).
func (e *Env) cluster(c Cmd) error {
	roles := map[string][]replog.ID{"proposers": {1, 2, 3}, "acceptors": {4, 5, 6}, "learners": {7, 8}}
	for name := range roles {
		if v := c.Get(name); v != "" {
			ids, err := e.list(v)
			if err != nil {
				return err
			}
			roles[name] = ids
		}
	}
	for _, id := range slices.Concat(roles["proposers"], roles["acceptors"], roles["learners"]) {
		cfg := replog.Config{ID: id, Proposers: roles["proposers"], Acceptors: roles["acceptors"],
			Learners: roles["learners"], Notify: roles["proposers"]}
		var store Store
		switch {
		case slices.Contains(roles["proposers"], id):
			store = e.stores.Proposer()
		case slices.Contains(roles["acceptors"], id):
			store = e.stores.Acceptor()
			if err := store.Save(&replog.Ready{HardState: replog.HardState{Rejoin: 1}}); err != nil {
				return err
			}
		default:
			store = e.stores.Learner()
		}
		n, err := NewNode(cfg, store)
		if err != nil {
			return err
		}
		e.Nodes[id] = n
		e.ids = append(e.ids, id)
	}
	slices.Sort(e.ids)
	return nil
}

// process handles n's Readys: save, print, send.
func (e *Env) process(n *Node) error {
	for {
		rd, err := n.Process()
		if err != nil || rd == nil {
			return err
		}
		if s := DescribeReady(n.Config.ID, rd); s != "" {
			e.out = append(e.out, s)
		}
		for _, m := range rd.Messages {
			if err := e.Net.Send(m); err != nil {
				return err
			}
		}
	}
}

// Stabilize delivers messages until none is in flight (ticks are the
// script's to give).
func (e *Env) Stabilize() error {
	for e.Net.Len() > 0 {
		if err := e.deliver(e.Net.Take(nil)); err != nil {
			return err
		}
	}
	return nil
}

// deliver steps each message into its node and handles the node's Ready
// after each one.
func (e *Env) deliver(msgs []replog.Message) error {
	for _, m := range msgs {
		n := e.Nodes[m.To]
		switch {
		case n == nil:
			e.printf("lost %s: no node %d", DescribeMessage(m), m.To)
			continue
		case e.down[m.To]:
			e.printf("lost %s: %d is down", DescribeMessage(m), m.To)
			continue
		case e.Net.Cut(m.From, m.To):
			e.printf("lost %s: partition", DescribeMessage(m))
			continue
		}
		if err := n.Step(m); err != nil {
			return err
		}
		if err := e.process(n); err != nil {
			return err
		}
	}
	return nil
}

func (e *Env) tick(c Cmd, list string) error {
	ids, err := e.list(list)
	if err != nil {
		return err
	}
	times := 1
	if v := c.Get("n"); v != "" {
		if times, err = strconv.Atoi(v); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if e.down[id] {
			continue
		}
		for range times {
			e.Nodes[id].Tick()
			if err := e.process(e.Nodes[id]); err != nil {
				return err
			}
		}
	}
	return nil
}

// send steps a message written in the script into node to.
func (e *Env) send(c Cmd, to, typ string) error {
	ids, err := e.list(to)
	if err != nil {
		return err
	}
	m := replog.Message{To: ids[0], Force: c.Has("force"), Truncated: c.Has("truncated")}
	if m.Type, err = msgType(typ); err != nil {
		return err
	}
	for _, f := range []struct {
		key string
		v   *uint64
	}{{"from", (*uint64)(&m.From)}, {"b", (*uint64)(&m.Ballot)}, {"slot", &m.Slot}, {"commit", &m.Commit},
		{"compact", &m.Compact}, {"probe", &m.Probe}} {
		if v := c.Get(f.key); v != "" {
			if *f.v, err = strconv.ParseUint(v, 10, 64); err != nil {
				return fmt.Errorf("%s: %w", f.key, err)
			}
		}
	}
	if v := c.Get("slots"); v != "" {
		for _, s := range strings.Split(v, ",") {
			slot, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return err
			}
			m.Slots = append(m.Slots, slot)
		}
	}
	if v := c.Get("entries"); v != "" {
		for _, s := range strings.Split(v, ",") {
			en, err := parseEntry(s)
			if err != nil {
				return err
			}
			m.Entries = append(m.Entries, en)
		}
	}
	if err := e.Nodes[m.To].Step(m); err != nil {
		return err
	}
	return e.process(e.Nodes[m.To])
}

// parseEntry reads SLOT:ID=VALUE[@BALLOT] or SLOT:noop[@BALLOT] (the
// request ID of a script's entries is written before the value; DescribeEntry prints them alike).
func parseEntry(s string) (replog.Entry, error) {
	var e replog.Entry
	slot, rest, ok := strings.Cut(s, ":")
	if !ok {
		return e, fmt.Errorf("entry %q: want SLOT:ID=VALUE[@BALLOT]", s)
	}
	var err error
	if e.Slot, err = strconv.ParseUint(slot, 10, 64); err != nil {
		return e, err
	}
	if cmd, ballot, ok := strings.Cut(rest, "@"); ok {
		b, err := strconv.ParseUint(ballot, 10, 64)
		if err != nil {
			return e, err
		}
		e.Ballot, rest = replog.Ballot(b), cmd
	}
	if rest != "noop" {
		id, value, _ := strings.Cut(rest, "=")
		e.Command = replog.Command{ClientID: 9, RequestID: id, Value: value}
	}
	return e, nil
}

func msgType(name string) (replog.MsgType, error) {
	for t := replog.MsgType(1); t <= replog.MaxMsgType; t++ {
		if t.String() == name {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown message type %q", name)
}

// match returns the filter of a deliver or drop command.
func (e *Env) match(c Cmd) (func(replog.Message) bool, error) {
	var from, to []replog.ID
	var err error
	if v := c.Get("from"); v != "" {
		if from, err = e.list(v); err != nil {
			return nil, err
		}
	}
	if v := c.Get("to"); v != "" {
		if to, err = e.list(v); err != nil {
			return nil, err
		}
	}
	var typ replog.MsgType
	if v := c.Get("type"); v != "" {
		if typ, err = msgType(v); err != nil {
			return nil, err
		}
	}
	limit, matched := 0, 0
	if v := c.Get("n"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil {
			return nil, err
		}
	}
	return func(m replog.Message) bool {
		ok := (from == nil || slices.Contains(from, m.From)) && (to == nil || slices.Contains(to, m.To)) &&
			(typ == 0 || m.Type == typ) && (limit == 0 || matched < limit)
		if ok {
			matched++
		}
		return ok
	}, nil
}

// proposer returns the proposer node named by word.
func (e *Env) proposer(word string) (*Node, error) {
	ids, err := e.list(word)
	if err != nil {
		return nil, err
	}
	n := e.Nodes[ids[0]]
	if n == nil || n.Proposer == nil {
		return nil, fmt.Errorf("node %d is not a proposer", ids[0])
	}
	if e.down[ids[0]] {
		return nil, fmt.Errorf("node %d is down", ids[0])
	}
	return n, nil
}

// restart crashes, restarts or wipes node id.
func (e *Env) restart(how string, id replog.ID) error {
	n := e.Nodes[id]
	if n == nil {
		return fmt.Errorf("no node %d", id)
	}
	switch how {
	case "crash":
		e.down[id] = true
		return nil
	case "lose-disk":
		if n.Acceptor == nil {
			return fmt.Errorf("node %d is not an acceptor", id)
		}
		n.Store = e.stores.Acceptor()
	}
	delete(e.down, id)
	return n.Restart()
}

// list reads "N,N,..." (node IDs).
func (e *Env) list(s string) ([]replog.ID, error) {
	if s == "" {
		return nil, errors.New("no node given")
	}
	var ids []replog.ID
	for _, f := range strings.Split(s, ",") {
		id, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("node list %q: %w", s, err)
		}
		ids = append(ids, replog.ID(id))
	}
	return ids, nil
}
