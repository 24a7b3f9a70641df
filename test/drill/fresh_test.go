//go:build drill

package drill

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFreshCloneComposeUp is issue 17's "docker compose up on a fresh
// clone": it clones the repository's committed HEAD (no bin/), runs the
// Compose command there with nothing before it, and waits until the ten
// nodes are healthy. The image is built inside Docker (Dockerfile.multistage)
// under a tag of its own, as on a machine that never ran "make image". It
// needs golang:1.26: here the offline stand-in of scripts/golang-standin.sh,
// which "make compose-fresh" makes first. Not part of "make drill": the
// in-Docker build takes minutes.
func TestFreshCloneComposeUp(t *testing.T) {
	src := repoRoot(t)
	if err := exec.Command("docker", "image", "inspect", "golang:1.26").Run(); err != nil {
		t.Fatalf("golang:1.26 not found: run scripts/golang-standin.sh (or make compose-fresh, which does)")
	}
	clone := filepath.Join(t.TempDir(), "paxos")
	if out, err := exec.Command("git", "clone", "--quiet", "--no-hardlinks", src, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(clone, "bin")); !os.IsNotExist(err) {
		t.Fatalf("the fresh clone has bin/ (%v)", err)
	}
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	image := "paxos:fresh-" + hex.EncodeToString(id)

	c := &cluster{t: t, root: clone, volumes: filepath.Join(clone, "volumes"), scheme: "http",
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}, logf: t.Logf}
	// The user's environment, with the drills' project name so that "down"
	// never touches the user's cluster, and an image tag nobody has.
	c.env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+project, "PAXOS_IMAGE="+image)
	c.checkNoOtherCluster()
	t.Cleanup(func() {
		c.composeQuiet("down", "-v", "--remove-orphans")
		_ = exec.Command("docker", "rmi", image).Run()
	})

	which := strings.Fields(c.composeWhich())
	start := time.Now()
	cmd := exec.Command(which[0], append(which[1:], "up", "-d")...)
	cmd.Dir, cmd.Env = clone, c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s up -d in a fresh clone: %v\n%s", strings.Join(which, " "), err, out)
	}
	t.Logf("%s up -d built %s and started the cluster in %.0fs", strings.Join(which, " "), image, time.Since(start).Seconds())
	c.waitHealthy(90*time.Second, allNodes...)
	if out, code := dockerExec(t, "proposer1", "paxosctl", "status"); code != 0 {
		t.Errorf("docker exec proposer1 paxosctl status in the fresh cluster: exit %d:\n%s", code, out)
	}
}
