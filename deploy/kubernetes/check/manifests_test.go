package check

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// dir is the kustomize base the test checks.
const dir = ".."

// role is one role of the topology of SPEC §3 (server/config.go,
// "standard"): its first node ID, how many nodes, the API port every pod of
// the role listens on, and whether its data needs a volume that outlives
// the pod.
type role struct {
	name           string
	firstID, count int
	port           int32
	persistent     bool
}

var roles = []role{
	{"proposer", 1, 3, 3001, true},
	{"acceptor", 4, 3, 4001, true},
	{"learner", 7, 2, 5001, true},
	{"client", 9, 2, 6001, false},
}

// kustomization is the part of kustomization.yaml this base uses; a field
// it does not know is an error (strict decoding).
type kustomization struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Labels     []struct {
		Pairs map[string]string `json:"pairs"`
	} `json:"labels"`
	Resources       []string `json:"resources"`
	SecretGenerator []struct {
		Name string   `json:"name"`
		Envs []string `json:"envs"`
	} `json:"secretGenerator"`
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

// base is every object of the kustomize base, by kind and name.
type base struct {
	kust         kustomization
	statefulSets map[string]*appsv1.StatefulSet
	services     map[string]*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	pdbs         map[string]*policyv1.PodDisruptionBudget
	secrets      map[string]*corev1.Secret
}

func newBase() *base {
	return &base{statefulSets: map[string]*appsv1.StatefulSet{}, services: map[string]*corev1.Service{},
		configMaps: map[string]*corev1.ConfigMap{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		secrets: map[string]*corev1.Secret{}}
}

// load decodes kustomization.yaml and each resource it lists, every
// document strictly into its API type: an unknown or misplaced field, a
// wrong type or an unknown kind fails.
func load(t *testing.T) *base {
	t.Helper()
	b := newBase()
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &b.kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if b.kust.APIVersion != "kustomize.config.k8s.io/v1beta1" || b.kust.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: %s %s", b.kust.APIVersion, b.kust.Kind)
	}
	// Every manifest in the folder is a resource: none is left out by mistake.
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(b.kust.Resources, base) {
			t.Errorf("%s is not in the resources of kustomization.yaml", base)
		}
	}
	for _, res := range b.kust.Resources {
		data, err := os.ReadFile(filepath.Join(dir, res))
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			if err := b.add(doc); err != nil {
				t.Errorf("%s, document %d: %v", res, i+1, err)
			}
		}
	}
	return b
}

func (b *base) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	var obj interface{ GetName() string }
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 StatefulSet":
		obj = &appsv1.StatefulSet{}
	case "v1 Service":
		obj = &corev1.Service{}
	case "v1 ConfigMap":
		obj = &corev1.ConfigMap{}
	case "policy/v1 PodDisruptionBudget":
		obj = &policyv1.PodDisruptionBudget{}
	case "v1 Secret":
		obj = &corev1.Secret{}
	default:
		return fmt.Errorf("unexpected %q %q", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return fmt.Errorf("%s: %w", tm.Kind, err)
	}
	name := obj.GetName()
	if name == "" {
		return fmt.Errorf("%s without a name", tm.Kind)
	}
	var dup bool
	switch o := obj.(type) {
	case *appsv1.StatefulSet:
		dup = put(b.statefulSets, name, o)
	case *corev1.Service:
		dup = put(b.services, name, o)
	case *corev1.ConfigMap:
		dup = put(b.configMaps, name, o)
	case *policyv1.PodDisruptionBudget:
		dup = put(b.pdbs, name, o)
	case *corev1.Secret:
		dup = put(b.secrets, name, o)
	}
	if dup {
		return fmt.Errorf("a second %s %s", tm.Kind, name)
	}
	return nil
}

// put sets m[name] to o and reports whether m had name already.
func put[T any](m map[string]T, name string, o T) bool {
	_, had := m[name]
	m[name] = o
	return had
}

// selects reports whether selector matches every label it names in labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func container(t *testing.T, sts *appsv1.StatefulSet) *corev1.Container {
	t.Helper()
	cs := sts.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("statefulset %s: %d containers, want 1", sts.Name, len(cs))
	}
	return &cs[0]
}

func envOf(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// TestStatefulSets: one StatefulSet per role whose ordinals are the node
// IDs of the role (so the pod index, NODE_ID, is the node ID), each pod
// behind its role's headless Service, with the role's port, its probes,
// the cluster secret, the shared topology and a volume of its own.
func TestStatefulSets(t *testing.T) {
	b := load(t)
	cm := b.configMaps["paxos-topology"]
	if cm == nil {
		t.Fatal("no ConfigMap paxos-topology")
	}
	if len(b.kust.SecretGenerator) != 1 || !slices.Equal(b.kust.SecretGenerator[0].Envs, []string{"cluster-secret.env"}) {
		t.Fatalf("want one secretGenerator from cluster-secret.env: %+v", b.kust.SecretGenerator)
	}
	secret := b.kust.SecretGenerator[0].Name
	if len(b.statefulSets) != len(roles) {
		t.Errorf("%d StatefulSets, want %d (one per role)", len(b.statefulSets), len(roles))
	}
	for _, r := range roles {
		sts := b.statefulSets[r.name]
		if sts == nil {
			t.Errorf("no StatefulSet %s", r.name)
			continue
		}
		s := sts.Spec
		if s.Ordinals == nil || s.Ordinals.Start != int32(r.firstID) || s.Replicas == nil || *s.Replicas != int32(r.count) {
			t.Errorf("%s: ordinals %+v replicas %v, want start %d and %d replicas (node IDs %d-%d)",
				r.name, s.Ordinals, s.Replicas, r.firstID, r.count, r.firstID, r.firstID+r.count-1)
		}
		if s.PodManagementPolicy != appsv1.ParallelPodManagement {
			t.Errorf("%s: podManagementPolicy %q, want Parallel (peers must all start to be ready)", r.name, s.PodManagementPolicy)
		}
		labels := s.Template.Labels
		if s.Selector == nil || !selects(s.Selector.MatchLabels, labels) || len(s.Selector.MatchExpressions) > 0 {
			t.Errorf("%s: selector %v does not select its pods %v", r.name, s.Selector, labels)
		}
		svc := b.services[s.ServiceName]
		if s.ServiceName != r.name || svc == nil {
			t.Errorf("%s: serviceName %q, want the headless Service %s", r.name, s.ServiceName, r.name)
		} else if svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses || !selects(svc.Spec.Selector, labels) {
			t.Errorf("service %s: clusterIP %q publishNotReadyAddresses %v selector %v: want headless, publishing not-ready pods, selecting %v",
				svc.Name, svc.Spec.ClusterIP, svc.Spec.PublishNotReadyAddresses, svc.Spec.Selector, labels)
		}

		c := container(t, sts)
		if e := envOf(c, "NODE_ID"); e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil ||
			e.ValueFrom.FieldRef.FieldPath != "metadata.labels['apps.kubernetes.io/pod-index']" {
			t.Errorf("%s: NODE_ID must come from the pod-index label (downward API): %+v", r.name, e)
		}
		if e := envOf(c, "PORT"); e == nil || e.Value != fmt.Sprint(r.port) {
			t.Errorf("%s: PORT %+v, want %d", r.name, e, r.port)
		}
		if e := envOf(c, "CLUSTER_SECRET"); e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
			e.ValueFrom.SecretKeyRef.Name != secret || e.ValueFrom.SecretKeyRef.Key != "CLUSTER_SECRET" {
			t.Errorf("%s: CLUSTER_SECRET must come from the Secret %s: %+v", r.name, secret, e)
		}
		if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != cm.Name {
			t.Errorf("%s: envFrom %+v, want the ConfigMap %s", r.name, c.EnvFrom, cm.Name)
		}
		var api *corev1.ContainerPort
		for i := range c.Ports {
			if c.Ports[i].Name == "api" {
				api = &c.Ports[i]
			}
		}
		if api == nil || api.ContainerPort != r.port {
			t.Errorf("%s: container port api %+v, want %d", r.name, api, r.port)
		}
		if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/ready" || p.HTTPGet.Port.String() != "api" {
			t.Errorf("%s: readiness probe %+v, want GET /ready on the api port", r.name, p)
		}
		if p := c.LivenessProbe; p == nil || p.Exec == nil || len(p.Exec.Command) < 2 ||
			!slices.Equal(p.Exec.Command[:2], []string{"/paxosd", "health"}) || slices.Contains(p.Exec.Command, "--ready") {
			t.Errorf("%s: liveness probe %+v, want exec /paxosd health (not --ready: a node behind is alive)", r.name, p)
		}

		mounted := ""
		for _, m := range c.VolumeMounts {
			if m.Name == "data" {
				mounted = m.MountPath
			}
		}
		if mounted == "" || mounted != cm.Data["DATA_DIR"] {
			t.Errorf("%s: volume data mounted at %q, DATA_DIR is %q", r.name, mounted, cm.Data["DATA_DIR"])
		}
		var claim *corev1.PersistentVolumeClaim
		for i := range s.VolumeClaimTemplates {
			if s.VolumeClaimTemplates[i].Name == "data" {
				claim = &s.VolumeClaimTemplates[i]
			}
		}
		switch {
		case r.persistent && claim == nil:
			t.Errorf("%s: no volumeClaimTemplate data: its state would die with the pod", r.name)
		case r.persistent:
			rp := s.PersistentVolumeClaimRetentionPolicy
			if rp == nil || rp.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType ||
				rp.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
				t.Errorf("%s: PVC retention %+v, want Retain when deleted and when scaled", r.name, rp)
			}
			if !slices.Equal(claim.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) ||
				claim.Spec.Resources.Requests.Storage().IsZero() {
				t.Errorf("%s: claim %+v, want ReadWriteOnce with a size", r.name, claim.Spec)
			}
		case claim != nil:
			t.Errorf("%s: a volumeClaimTemplate for a role that keeps nothing", r.name)
		}
	}
}

// TestPeerLists: the peer lists name every node of the topology, by ID, at
// the stable name of its pod (role-ID.role) and its role's port; JOIN names
// pods that exist.
func TestPeerLists(t *testing.T) {
	b := load(t)
	cm := b.configMaps["paxos-topology"]
	if cm == nil {
		t.Fatal("no ConfigMap paxos-topology")
	}
	pods := map[string]bool{}
	for _, r := range roles {
		var want []string
		for id := r.firstID; id < r.firstID+r.count; id++ {
			want = append(want, fmt.Sprintf("%d@%s-%d.%s:%d", id, r.name, id, r.name, r.port))
			pods[fmt.Sprintf("%s-%d.%s", r.name, id, r.name)] = true
		}
		key := strings.ToUpper(r.name) + "S"
		if got := cm.Data[key]; got != strings.Join(want, ",") {
			t.Errorf("%s = %q, want %q", key, got, strings.Join(want, ","))
		}
	}
	join := strings.Split(cm.Data["JOIN"], ",")
	gossip := regexp.MustCompile(`^(.+):` + regexp.QuoteMeta(cm.Data["GOSSIP_PORT"]) + `$`)
	for _, j := range join {
		m := gossip.FindStringSubmatch(j)
		if m == nil || !pods[m[1]] {
			t.Errorf("JOIN entry %q is not a pod of the topology at GOSSIP_PORT %s", j, cm.Data["GOSSIP_PORT"])
		}
	}
	if len(join) < 2 {
		t.Errorf("JOIN %q: want at least two pods, so one down does not keep a node out of gossip", cm.Data["JOIN"])
	}
	if cm.Data["CLUSTER_ID"] == "" {
		t.Errorf("no CLUSTER_ID: a volume mounted in another cluster would not be caught")
	}
}

// TestAcceptorsSpread: at most one acceptor down by choice (the PDB), and
// the scheduler prefers one acceptor per machine.
func TestAcceptorsSpread(t *testing.T) {
	b := load(t)
	sts := b.statefulSets["acceptor"]
	if sts == nil {
		t.Fatal("no StatefulSet acceptor")
	}
	labels := sts.Spec.Template.Labels
	found := 0
	for _, pdb := range b.pdbs {
		if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, labels) {
			continue
		}
		found++
		if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.String() != "1" || pdb.Spec.MinAvailable != nil {
			t.Errorf("PDB %s: maxUnavailable %v minAvailable %v, want maxUnavailable 1", pdb.Name, pdb.Spec.MaxUnavailable, pdb.Spec.MinAvailable)
		}
	}
	if found != 1 {
		t.Errorf("%d PodDisruptionBudgets select the acceptors, want 1", found)
	}
	aff := sts.Spec.Template.Spec.Affinity
	if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		t.Fatalf("acceptor: no preferred pod anti-affinity: %+v", aff)
	}
	if len(aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0 {
		t.Errorf("acceptor: required anti-affinity leaves acceptors unscheduled on a small cluster; want preferred")
	}
	for _, w := range aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		term := w.PodAffinityTerm
		if term.TopologyKey != "kubernetes.io/hostname" || term.LabelSelector == nil || !selects(term.LabelSelector.MatchLabels, labels) {
			t.Errorf("acceptor: anti-affinity term %+v, want other acceptors on kubernetes.io/hostname", term)
		}
	}
}
