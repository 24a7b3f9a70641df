package check

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestKustomizeBuild: when kubectl is here, kubectl kustomize builds the
// base (with a cluster-secret.env made for the test), every object it
// renders decodes strictly, and every pod takes CLUSTER_SECRET from the
// Secret the generator made (whose name has a hash suffix). Without the
// env file the build fails: no cluster runs with a secret from this
// repository.
func TestKustomizeBuild(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("no kubectl here: the build of the base is not checked")
	}
	tmp := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("kubectl", "kustomize", tmp).CombinedOutput(); err == nil || !strings.Contains(string(out), "cluster-secret.env") {
		t.Errorf("kubectl kustomize without cluster-secret.env: %v, want a failure naming the file\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(tmp, "cluster-secret.env"), []byte("CLUSTER_SECRET=test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("kubectl", "kustomize", tmp).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	b := newBase()
	for i, doc := range bytes.Split(out, []byte("\n---\n")) {
		if err := b.add(doc); err != nil {
			t.Errorf("rendered document %d: %v", i+1, err)
		}
	}
	if len(b.secrets) != 1 {
		t.Fatalf("%d Secrets rendered, want 1", len(b.secrets))
	}
	for name := range b.secrets {
		for _, r := range roles {
			sts := b.statefulSets[r.name]
			if sts == nil {
				t.Errorf("no StatefulSet %s rendered", r.name)
				continue
			}
			e := envOf(container(t, sts), "CLUSTER_SECRET")
			if e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != name {
				t.Errorf("%s: CLUSTER_SECRET %+v, want the generated Secret %s", r.name, e, name)
			}
			if img := container(t, sts).Image; img != "paxos:local" {
				t.Errorf("%s: image %q, want paxos:local (images: in kustomization.yaml)", r.name, img)
			}
			if sts.Labels["app.kubernetes.io/part-of"] != "paxos" {
				t.Errorf("%s: labels %v lack app.kubernetes.io/part-of: paxos", r.name, sts.Labels)
			}
		}
	}
}
