package check

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// stackFile is the Docker Swarm stack of deploy/swarm.
var stackFile = filepath.Join("..", "..", "swarm", "paxos-stack.yml")

// stack is the part of a stack file the check looks at, after YAML merge
// keys are applied.
type stack struct {
	Services map[string]struct {
		Image       string            `json:"image"`
		Build       any               `json:"build"`
		Container   string            `json:"container_name"`
		Environment map[string]string `json:"environment"`
		Ports       []struct {
			Target    int    `json:"target"`
			Published int    `json:"published"`
			Mode      string `json:"mode"`
		} `json:"ports"`
		Volumes []string `json:"volumes"`
		Secrets []struct {
			Source string `json:"source"`
			Target string `json:"target"`
		} `json:"secrets"`
		Deploy struct {
			EndpointMode string `json:"endpoint_mode"`
			Replicas     int    `json:"replicas"`
			Update       struct {
				Parallelism int    `json:"parallelism"`
				Order       string `json:"order"`
			} `json:"update_config"`
			Placement struct {
				Constraints []string `json:"constraints"`
			} `json:"placement"`
		} `json:"deploy"`
	} `json:"services"`
	Networks map[string]struct {
		Driver     string `json:"driver"`
		Attachable bool   `json:"attachable"`
	} `json:"networks"`
	Volumes map[string]any `json:"volumes"`
	Secrets map[string]struct {
		External bool `json:"external"`
	} `json:"secrets"`
}

// TestSwarmStack: docker stack config accepts the stack file (when the
// docker CLI has it), and the stack runs the topology of SPEC §3 the way
// Swarm needs: one service per node with its ID and port, DNS round robin
// and host-mode ports (no IPVS), a volume of its own pinned to a machine by
// a node label, one task at a time stopped before its successor starts,
// the cluster secret from a Docker secret, an attachable overlay network.
func TestSwarmStack(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		if os.Getenv("CI") != "" {
			t.Errorf("no docker CLI: docker stack config cannot check %s", stackFile)
		}
	} else if help, err := exec.Command("docker", "stack", "config", "--help").CombinedOutput(); err != nil {
		t.Logf("docker stack config is not available here (%v: %s): checking the file alone", err, firstLine(help))
	} else if out, err := exec.Command("docker", "stack", "config", "-c", stackFile).CombinedOutput(); err != nil {
		t.Errorf("docker stack config -c %s: %v\n%s", stackFile, err, out)
	}

	data, err := os.ReadFile(stackFile)
	if err != nil {
		t.Fatal(err)
	}
	var st stack
	if err := yaml.Unmarshal(data, &st); err != nil {
		t.Fatalf("%s: %v", stackFile, err)
	}
	if len(st.Services) != 10 {
		t.Errorf("%d services, want the 10 nodes", len(st.Services))
	}
	for _, r := range roles {
		for i := range r.count {
			id, name, port := r.firstID+i, fmt.Sprintf("%s%d", r.name, i+1), int(r.port)+i
			svc, ok := st.Services[name]
			if !ok {
				t.Errorf("no service %s", name)
				continue
			}
			env := svc.Environment
			if env["NODE_ID"] != fmt.Sprint(id) || env["PORT"] != fmt.Sprint(port) || env["GOSSIP_ADVERTISE"] != name {
				t.Errorf("%s: NODE_ID %q PORT %q GOSSIP_ADVERTISE %q, want %d, %d, %s", name, env["NODE_ID"], env["PORT"], env["GOSSIP_ADVERTISE"], id, port, name)
			}
			if svc.Build != nil || svc.Container != "" {
				t.Errorf("%s: build or container_name: Swarm takes neither", name)
			}
			if !strings.Contains(env[strings.ToUpper(r.name)+"S"], fmt.Sprintf("%s:%d", name, port)) {
				t.Errorf("%s: %sS %q does not name %s:%d", name, strings.ToUpper(r.name), env[strings.ToUpper(r.name)+"S"], name, port)
			}
			if env["CLUSTER_SECRET_FILE"] == "" || env["CLUSTER_SECRET"] != "" ||
				len(svc.Secrets) != 1 || "/run/secrets/"+svc.Secrets[0].Target != env["CLUSTER_SECRET_FILE"] || !st.Secrets[svc.Secrets[0].Source].External {
				t.Errorf("%s: the cluster secret must come from an external Docker secret at CLUSTER_SECRET_FILE: %+v, %q", name, svc.Secrets, env["CLUSTER_SECRET_FILE"])
			}
			d := svc.Deploy
			if d.EndpointMode != "dnsrr" || d.Replicas != 1 {
				t.Errorf("%s: endpoint_mode %q replicas %d, want dnsrr and 1", name, d.EndpointMode, d.Replicas)
			}
			if d.Update.Parallelism != 1 || d.Update.Order != "stop-first" {
				t.Errorf("%s: update_config %+v, want parallelism 1, stop-first", name, d.Update)
			}
			if want := fmt.Sprintf("node.labels.paxos.%s == true", name); len(d.Placement.Constraints) != 1 || d.Placement.Constraints[0] != want {
				t.Errorf("%s: placement %v, want [%s]", name, d.Placement.Constraints, want)
			}
			if want := name + ":/data"; len(svc.Volumes) != 1 || svc.Volumes[0] != want {
				t.Errorf("%s: volumes %v, want [%s]", name, svc.Volumes, want)
			} else if _, ok := st.Volumes[name]; !ok {
				t.Errorf("%s: volume %s is not declared", name, name)
			}
			published := map[int]bool{}
			for _, p := range svc.Ports {
				if p.Mode != "host" || p.Target != p.Published {
					t.Errorf("%s: port %+v, want mode host on the same port", name, p)
				}
				published[p.Target] = true
			}
			if !published[port] {
				t.Errorf("%s: API port %d not published", name, port)
			}
		}
	}
	for name, n := range st.Networks {
		if n.Driver != "overlay" || !n.Attachable {
			t.Errorf("network %s: driver %q attachable %v, want an attachable overlay", name, n.Driver, n.Attachable)
		}
	}
	if len(st.Networks) != 1 {
		t.Errorf("%d networks, want one", len(st.Networks))
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}
