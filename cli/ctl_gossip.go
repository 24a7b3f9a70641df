package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/paxos-go/paxos/gossip"
)

const gossipKeyDescription = `gossip key changes the key memberlist encrypts gossip with, on every
node at once, without a restart. The cluster secret gives the first key;
a node keeps its keyring in its data dir, so a restarted node still speaks
the current key.

   list          every node's keys, primary first (fingerprints; -w json
                 shows the keys themselves)
   install KEY   add KEY to every node's keyring (it decrypts with it)
   use KEY       make KEY every node's primary key (it encrypts with it)
   remove KEY    drop KEY from every node's keyring
   generate      print a new random key (32 bytes, base64); changes nothing

KEY is 16, 24 or 32 bytes (AES-128, -192, -256) in standard base64. To
rotate without losing a message, run the three steps in order, each on
every node before the next: install the new key, use it, remove the old
one (list shows it). paxosctl asks every node that gossip lists, prints
one row per node, and exits 1 when any node did not take the change:
run the step again once that node is back (each step may be repeated).

The keyring is an internal endpoint: paxosctl sends the cluster secret
(--secret, CLUSTER_SECRET) and, with TLS, needs a client certificate
(--cert, --key). No key is ever written to a log, only its fingerprint.

Examples:
   paxosctl gossip key list
   NEW=$(paxosctl gossip key generate)
   paxosctl gossip key install "$NEW"
   paxosctl gossip key use "$NEW"
   paxosctl gossip key remove "$OLD"     # OLD: the other key in list`

func gossipCommand() *cli.Command {
	keyCmd := func(name, usage string, run func(*cli.Context) error) *cli.Command {
		return &cli.Command{Name: name, Usage: usage, Action: run,
			OnUsageError: func(_ *cli.Context, err error, _ bool) error {
				return badInput("gossip key "+name, "%v", err)
			}}
	}
	change := func(op string) func(*cli.Context) error {
		return func(c *cli.Context) error { return runGossipKeyChange(c, op) }
	}
	return &cli.Command{
		Name:        "gossip",
		Usage:       "the gossip layer: its encryption keys",
		UsageText:   "paxosctl gossip key list | install KEY | use KEY | remove KEY | generate",
		Description: gossipKeyDescription,
		Subcommands: []*cli.Command{{
			Name:        "key",
			Usage:       "list, install, use or remove the gossip encryption key on every node",
			UsageText:   "paxosctl gossip key list | install KEY | use KEY | remove KEY | generate",
			Description: gossipKeyDescription,
			Subcommands: []*cli.Command{
				keyCmd("list", "every node's keys, primary first", runGossipKeyList),
				keyCmd(gossip.KeyInstall, "add KEY to every node's keyring", change(gossip.KeyInstall)),
				keyCmd(gossip.KeyUse, "make KEY every node's primary key", change(gossip.KeyUse)),
				keyCmd(gossip.KeyRemove, "drop KEY from every node's keyring", change(gossip.KeyRemove)),
				keyCmd("generate", "print a new random key (32 bytes, base64)", runGossipKeyGenerate),
			},
		}},
	}
}

// gossipKeyAnswer is one node's answer to GET or POST /gossip/keys.
type gossipKeyAnswer struct {
	Name         string   `json:"name"`
	Address      string   `json:"address"`
	Primary      string   `json:"primary,omitempty"`
	Keys         []string `json:"keys,omitempty"`
	Fingerprints []string `json:"fingerprints,omitempty"`
	Error        string   `json:"error,omitempty"`
}

// fanOutKeys asks every node of the cluster for method /gossip/keys with
// body, concurrently, and returns the answers in the topology's order.
func fanOutKeys(c *cli.Context, what, method string, body any) ([]gossipKeyAnswer, *ctlEnv, error) {
	env := newCtlEnv(c, 10)
	topo := env.client.discover(c.Context)
	if topo.Err != nil {
		return nil, env, failed(what, topo.Err)
	}
	if len(topo.Nodes) == 0 {
		return nil, env, failed(what, fmt.Errorf("no node known (%s)", topo.Source))
	}
	out := make([]gossipKeyAnswer, len(topo.Nodes))
	var wg sync.WaitGroup
	for i, n := range topo.Nodes {
		wg.Go(func() {
			a := &out[i]
			a.Name, a.Address = n.Name, n.Addr
			if a.Name == "" {
				a.Name = n.Addr
			}
			if err := env.client.do(context.WithoutCancel(c.Context), method, n.Addr, "/gossip/keys", body, a); err != nil {
				a.Error = err.Error()
			}
		})
	}
	wg.Wait()
	return out, env, nil
}

func runGossipKeyList(c *cli.Context) error {
	if c.NArg() > 0 {
		return badInput("gossip key list", "unexpected argument %q", c.Args().First())
	}
	answers, env, err := fanOutKeys(c, "gossip key list", http.MethodGet, nil)
	defer env.client.close()
	if err != nil {
		return err
	}
	r := result{JSON: answers, Header: []string{"NAME", "ADDRESS", "PRIMARY", "KEYS", "ERROR"}}
	for _, a := range answers {
		primary := ""
		if len(a.Fingerprints) > 0 {
			primary = a.Fingerprints[0]
		}
		r.Rows = append(r.Rows, []string{a.Name, a.Address, primary, strings.Join(a.Fingerprints, ","), a.Error})
	}
	return printKeyAnswers(env, "gossip key list", r, answers)
}

func runGossipKeyChange(c *cli.Context, op string) error {
	what := "gossip key " + op
	if c.NArg() != 1 {
		return badInput(what, "want one KEY (paxosctl gossip key %s KEY; paxosctl gossip key generate makes one)", op)
	}
	key, err := gossip.DecodeKey(strings.TrimSpace(c.Args().First()))
	if err != nil {
		return badInput(what, "%v", err)
	}
	answers, env, err := fanOutKeys(c, what, http.MethodPost,
		map[string]string{"op": op, "key": base64.StdEncoding.EncodeToString(key)})
	defer env.client.close()
	if err != nil {
		return err
	}
	r := result{JSON: answers, Header: []string{"NAME", "ADDRESS", "RESULT", "PRIMARY", "KEYS"}}
	for _, a := range answers {
		res, primary := "ok", ""
		if a.Error != "" {
			res = a.Error
		}
		if len(a.Fingerprints) > 0 {
			primary = a.Fingerprints[0]
		}
		r.Rows = append(r.Rows, []string{a.Name, a.Address, res, primary, strconv.Itoa(len(a.Keys))})
	}
	r.Notes = []string{fmt.Sprintf("%s key %s", op, gossip.KeyFingerprint(key))}
	return printKeyAnswers(env, what, r, answers)
}

// printKeyAnswers prints r and fails when a node did not answer 200.
func printKeyAnswers(env *ctlEnv, what string, r result, answers []gossipKeyAnswer) error {
	if err := env.out.print(r); err != nil {
		return err
	}
	var bad []string
	for _, a := range answers {
		if a.Error != "" {
			bad = append(bad, a.Name)
		}
	}
	if len(bad) > 0 {
		return failed(what, fmt.Errorf("%d of %d nodes failed: %s", len(bad), len(answers), strings.Join(bad, ", ")))
	}
	return nil
}

func runGossipKeyGenerate(c *cli.Context) error {
	if c.NArg() > 0 {
		return badInput("gossip key generate", "unexpected argument %q", c.Args().First())
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return failed("gossip key generate", err)
	}
	_, err := fmt.Fprintln(c.App.Writer, base64.StdEncoding.EncodeToString(k))
	return err
}
