package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestE2ESecondProcessSameDataDir starts a second paxosd on the data dir of
// a running proposer, acceptor and learner (same node ID, other ports): each
// must exit with a non-zero status within 5s, saying which file is locked,
// and the running node must go on working.
func TestE2ESecondProcessSameDataDir(t *testing.T) {
	c := NewCluster(t, Options{Tick: 20 * time.Millisecond})
	var wg sync.WaitGroup
	for _, name := range []string{"proposer1", "acceptor1", "learner1"} {
		n := c.Node(name)
		ports := freePorts(t, 3)
		env := c.env(n)
		env = append(env, // later entries win
			"LISTEN_ADDR=127.0.0.1:"+strconv.Itoa(ports[0]),
			"MONITOR_PORT="+strconv.Itoa(ports[1]),
			"GOSSIP_PORT="+strconv.Itoa(ports[2]))
		logPath := filepath.Join(c.Dir, name+"-second.log")
		p, err := c.spawn(n, env, logPath)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			start := time.Now()
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
				t.Errorf("%s: a second paxosd on its data dir still ran after 5s:\n%s", name, tail(logPath, 20))
				return
			}
			out, _ := os.ReadFile(logPath)
			file := filepath.Join(n.DataDir, n.Role+".db")
			switch {
			case p.cmd.ProcessState.ExitCode() == 0:
				t.Errorf("%s: the second paxosd exited with status 0:\n%s", name, out)
			case !strings.Contains(string(out), file) || !strings.Contains(string(out), "locked"):
				t.Errorf("%s: the second paxosd exited (%v) without naming the locked file %s:\n%s", name, p.err, file, out)
			default:
				t.Logf("%s: second paxosd exited after %s with %v: %s", name, time.Since(start).Round(time.Millisecond),
					p.err, strings.TrimSpace(lastLine(string(out))))
			}
		})
	}
	wg.Wait()

	// The first processes were not disturbed.
	for _, name := range []string{"proposer1", "acceptor1", "learner1"} {
		if !c.Running(name) {
			t.Errorf("%s exited:\n%s", name, tail(c.Node(name).LogPath, 20))
		}
	}
	c.WaitHealthy(5 * time.Second)
	mustSend(t, c.Node("client1"), "still-works")
	eventually(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p, err := values(ctx, c.Node("learner1"))
		if err == nil && (len(p.Values) != 1 || p.Values[0] != "still-works") {
			err = fmt.Errorf("learner1 has %q, want [still-works]", p.Values)
		}
		return err
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
