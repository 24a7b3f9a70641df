package replogtest

import (
	"fmt"
	"math/rand/v2"

	"github.com/paxos-go/paxos/replog"
)

// Network carries messages between nodes in memory. What it does to them
// is decided by its fields and its seeded source, so a run replays exactly
// from its seed. The zero values deliver every message once, at the next
// Step, in the order sent.
type Network struct {
	// Drop and Dup are the chances that a message is lost, or arrives
	// twice.
	Drop, Dup float64
	// Delay: a message arrives 1 + rand[0, Delay) steps after it is sent
	// (at the next step when Delay <= 0).
	Delay int
	// Reorder delivers the messages due at one step in a random order.
	Reorder bool
	// MaxBytes, when positive, bounds the commands in a message of more
	// than one entry (replog.Config.MaxMsgBytes): Send refuses a larger
	// message.
	MaxBytes int

	rng   *rand.Rand
	now   int
	inbox []envelope
	group map[replog.ID]int
}

type envelope struct {
	at int
	m  replog.Message
}

// NewNetwork returns a network that draws its random choices from rng
// (nil when nothing random is asked of it).
func NewNetwork(rng *rand.Rand) *Network {
	return &Network{rng: rng, group: map[replog.ID]int{}}
}

// Send puts m in flight, unless the network loses it. It fails, sending
// nothing, when m is over MaxBytes.
func (n *Network) Send(m replog.Message) error {
	if size := EntriesSize(m); n.MaxBytes > 0 && len(m.Entries) > 1 && size > n.MaxBytes {
		return fmt.Errorf("node %d sent a %v of %d entries, %d bytes: over MaxMsgBytes %d",
			m.From, m.Type, len(m.Entries), size, n.MaxBytes)
	}
	copies := 1
	if n.Drop > 0 && n.rng.Float64() < n.Drop {
		return nil
	}
	if n.Dup > 0 && n.rng.Float64() < n.Dup {
		copies = 2
	}
	for range copies {
		at := n.now + 1
		if n.Delay > 0 {
			at += n.rng.IntN(n.Delay)
		}
		n.inbox = append(n.inbox, envelope{at: at, m: m})
	}
	return nil
}

// EntriesSize is the size of m's commands, by replog.Command.Size.
func EntriesSize(m replog.Message) int {
	size := 0
	for _, e := range m.Entries {
		size += e.Command.Size()
	}
	return size
}

// Step moves the clock one step and returns the messages due, without
// those a partition cuts (they are lost).
func (n *Network) Step() []replog.Message {
	n.now++
	var due []replog.Message
	later := n.inbox[:0]
	for _, e := range n.inbox {
		if e.at <= n.now {
			due = append(due, e.m)
		} else {
			later = append(later, e)
		}
	}
	clear(n.inbox[len(later):])
	n.inbox = later
	if n.Reorder {
		n.rng.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	}
	out := due[:0]
	for _, m := range due {
		if !n.Cut(m.From, m.To) {
			out = append(out, m)
		}
	}
	return out
}

// Take removes the messages in flight that match, whenever they are due,
// and returns them in the order sent; nil match takes every one.
func (n *Network) Take(match func(replog.Message) bool) []replog.Message {
	var taken []replog.Message
	keep := n.inbox[:0]
	for _, e := range n.inbox {
		if match == nil || match(e.m) {
			taken = append(taken, e.m)
		} else {
			keep = append(keep, e)
		}
	}
	clear(n.inbox[len(keep):])
	n.inbox = keep
	return taken
}

// Len returns the number of messages in flight.
func (n *Network) Len() int { return len(n.inbox) }

// Forge puts in flight a copy of the i-th message in flight with its
// sender changed to from, due when the original is.
func (n *Network) Forge(i int, from replog.ID) {
	e := n.inbox[i]
	e.m.From = from
	n.inbox = append(n.inbox, e)
}

// SetGroup puts id in partition group g: messages cross only within a
// group (every node starts in group 0).
func (n *Network) SetGroup(id replog.ID, g int) { n.group[id] = g }

// Heal puts every node back in one group.
func (n *Network) Heal() { clear(n.group) }

// Cut reports whether a partition separates from and to.
func (n *Network) Cut(from, to replog.ID) bool { return n.group[from] != n.group[to] }

// InFlight returns the i-th message in flight (0 <= i < Len).
func (n *Network) InFlight(i int) replog.Message { return n.inbox[i].m }
