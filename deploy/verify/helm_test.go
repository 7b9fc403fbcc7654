package verify

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// kubeVersion is what helm lint and helm template assume (the chart needs 1.30+: native
// sidecars and the preStop sleep action). A go-installed helm defaults to an old version.
const kubeVersion = "1.31.0"

var regions = []string{"us-east", "eu-west", "ap-south"}

func chartDir(t testing.TB) string { return filepath.Join(repoRoot(t), "deploy", "helm", "paycenter") }

// kinds maps apiVersion/kind to the Go type every rendered document must decode into,
// strictly. Anything else the chart renders is an error.
var kinds = map[string]func() any{
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"batch/v1/Job":                            func() any { return &batchv1.Job{} },
	"networking.k8s.io/v1/NetworkPolicy":      func() any { return &networkingv1.NetworkPolicy{} },
	"networking.k8s.io/v1/Ingress":            func() any { return &networkingv1.Ingress{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule": func() any { return &monitoringv1.PrometheusRule{} },
}

// release is one rendered region, decoded.
type release struct {
	name, region string
	values       map[string]any // values.yaml merged with the region's file and --set pairs
	deployments  map[string]*appsv1.Deployment
	services     map[string]*corev1.Service
	configMaps   []*corev1.ConfigMap
	pdbs         []*policyv1.PodDisruptionBudget
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	jobs         []*batchv1.Job
	netpols      map[string]*networkingv1.NetworkPolicy
	ingresses    []*networkingv1.Ingress
	monitors     []*monitoringv1.ServiceMonitor
	rules        []*monitoringv1.PrometheusRule
	kindCount    map[string]int
}

func TestHelmLint(t *testing.T) {
	helm := tool(t, "helm")
	for _, r := range regions {
		t.Run(r, func(t *testing.T) {
			out, errb, err := run(t, chartDir(t), nil, helm, "lint", ".", "--strict", "--kube-version", kubeVersion, "-f", "values-"+r+".yaml")
			if err != nil {
				t.Fatalf("helm lint: %v\n%s%s", err, out, errb)
			}
			if !bytes.Contains(out, []byte("0 chart(s) failed")) {
				t.Fatalf("helm lint did not pass:\n%s", out)
			}
		})
	}
}

// render runs helm template for a region's values file plus --set pairs and decodes every
// document strictly into its Kubernetes type.
func render(t *testing.T, region string, set ...string) *release {
	t.Helper()
	helm := tool(t, "helm")
	args := []string{"template", "paycenter-" + region, ".", "--namespace", "paycenter", "--kube-version", kubeVersion,
		"-f", "values-" + region + ".yaml"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, errb, err := run(t, chartDir(t), nil, helm, args...)
	if err != nil {
		t.Fatalf("helm template %s: %v\n%s", strings.Join(set, " "), err, errb)
	}
	rel := decodeAll(t, out)
	rel.name, rel.region = "paycenter-"+region, region
	rel.values = loadValues(t, region, set)
	return rel
}

// renderFails runs helm template and returns its error output; the render must fail.
func renderFails(t *testing.T, region string, set ...string) string {
	t.Helper()
	helm := tool(t, "helm")
	args := []string{"template", "paycenter-" + region, ".", "--kube-version", kubeVersion, "-f", "values-" + region + ".yaml"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, errb, err := run(t, chartDir(t), nil, helm, args...)
	if err == nil {
		t.Fatalf("helm template %s rendered, want an error; got:\n%.2000s", strings.Join(set, " "), out)
	}
	return string(errb)
}

func decodeAll(t *testing.T, out []byte) *release {
	t.Helper()
	rel := &release{deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		netpols: map[string]*networkingv1.NetworkPolicy{}, kindCount: map[string]int{}}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("split rendered YAML: %v", err)
		}
		if isEmptyDoc(doc) {
			continue
		}
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("rendered document is not YAML: %v\n%s", err, doc)
		}
		key := tm.APIVersion + "/" + tm.Kind
		mk, ok := kinds[key]
		if !ok {
			t.Fatalf("unexpected kind %s rendered (%s)", key, source(doc))
		}
		obj := mk()
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s (%s) does not decode strictly into its API type: %v", key, source(doc), err)
		}
		rel.kindCount[tm.Kind]++
		switch o := obj.(type) {
		case *appsv1.Deployment:
			rel.deployments[o.Labels["app.kubernetes.io/component"]] = o
		case *corev1.Service:
			rel.services[o.Name] = o
		case *corev1.ConfigMap:
			rel.configMaps = append(rel.configMaps, o)
		case *policyv1.PodDisruptionBudget:
			rel.pdbs = append(rel.pdbs, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			rel.hpas = append(rel.hpas, o)
		case *batchv1.Job:
			rel.jobs = append(rel.jobs, o)
		case *networkingv1.NetworkPolicy:
			rel.netpols[o.Labels["app.kubernetes.io/component"]] = o
		case *networkingv1.Ingress:
			rel.ingresses = append(rel.ingresses, o)
		case *monitoringv1.ServiceMonitor:
			rel.monitors = append(rel.monitors, o)
		case *monitoringv1.PrometheusRule:
			rel.rules = append(rel.rules, o)
		}
	}
	return rel
}

func isEmptyDoc(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		l := strings.TrimSpace(line)
		if l != "" && l != "---" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func source(doc []byte) string {
	if m := regexp.MustCompile(`# Source: (\S+)`).FindSubmatch(doc); m != nil {
		return string(m[1])
	}
	return "unknown template"
}

// loadValues merges values.yaml, values-<region>.yaml and simple --set pairs, the way helm
// does for the keys the assertions read.
func loadValues(t *testing.T, region string, set []string) map[string]any {
	t.Helper()
	read := func(name string) map[string]any {
		b, err := os.ReadFile(filepath.Join(chartDir(t), name))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return m
	}
	v := merge(read("values.yaml"), read("values-"+region+".yaml"))
	for _, s := range set {
		k, val, _ := strings.Cut(s, "=")
		var parsed any
		if err := yaml.Unmarshal([]byte(val), &parsed); err != nil || strings.HasPrefix(val, "{") {
			parsed = val
		}
		setPath(v, strings.Split(k, "."), parsed)
	}
	return v
}

func merge(dst, src map[string]any) map[string]any {
	for k, sv := range src {
		if sm, ok := sv.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = merge(dm, sm)
				continue
			}
		}
		dst[k] = sv
	}
	return dst
}

func setPath(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

func val(t *testing.T, v map[string]any, path string) any {
	t.Helper()
	var cur any = v
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("values: %s: %q is not a map", path, p)
		}
		cur = m[p]
	}
	return cur
}

func valString(t *testing.T, v map[string]any, path string) string {
	t.Helper()
	return fmt.Sprint(val(t, v, path))
}

func valInt(t *testing.T, v map[string]any, path string) int32 {
	t.Helper()
	switch n := val(t, v, path).(type) {
	case float64:
		return int32(n)
	case int64:
		return int32(n)
	case int:
		return int32(n)
	}
	t.Fatalf("values: %s is %T, not a number", path, val(t, v, path))
	return 0
}

func container(t *testing.T, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}

func envVar(c corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

func containerPort(t *testing.T, c corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port named %q", c.Name, name)
	return 0
}

// secretEnv are the variables that carry secrets: they must come from secretKeyRef.
var secretEnv = []string{"PAYD_DATABASE_URL", "PAYD_ADMIN_TOKEN", "PAYD_SECRET_KEY", "PAYD_CARD_ACQUIRER_KEY", "PAYD_CARD_ACQUIRER2_KEY",
	"CONSUL_HTTP_TOKEN", "GOSSIP_KEY"}

// secretLooking matches values that must never be inline: URLs with a password, key
// material, API keys.
var secretLooking = regexp.MustCompile(`(?i)(://[^/\s:@]+:[^/\s@]+@|-----BEGIN|\bsk_(live|test)_|\badm_[a-z0-9]{8,})`)

func TestHelmTemplateRegions(t *testing.T) {
	tool(t, "helm")
	rels := map[string]*release{}
	for _, r := range regions {
		t.Run(r, func(t *testing.T) {
			rel := render(t, r)
			rels[r] = rel
			checkRelease(t, rel)
		})
	}
	if t.Failed() || len(rels) != len(regions) {
		return
	}
	t.Run("regions differ where they must", func(t *testing.T) { checkRegionsDiffer(t, rels) })
}

func checkRelease(t *testing.T, rel *release) {
	for _, want := range []string{"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "HorizontalPodAutoscaler",
		"Job", "NetworkPolicy", "ServiceMonitor", "PrometheusRule"} {
		if rel.kindCount[want] == 0 {
			t.Errorf("no %s rendered", want)
		}
	}
	payd, edge := rel.deployments["payd"], rel.deployments["payedge"]
	if payd == nil || edge == nil {
		t.Fatalf("want payd and payedge Deployments, got %v", keys(rel.deployments))
	}
	checkPayd(t, rel, payd)
	checkPayedge(t, rel, edge)
	checkNoInlineSecrets(t, rel)
	checkMigrations(t, rel, payd)
	checkSelectors(t, rel)
	checkNetworkPolicies(t, rel)
	checkMonitoring(t, rel)
}

func checkPayd(t *testing.T, rel *release, d *appsv1.Deployment) {
	v := rel.values
	c := container(t, d.Spec.Template.Spec, "payd")
	api := containerPort(t, c, "api")
	if want := valInt(t, v, "payd.port"); api != want {
		t.Errorf("payd api port %d, want %d", api, want)
	}
	metrics := containerPort(t, c, "metrics")
	if want := valInt(t, v, "payd.metricsPort"); metrics != want {
		t.Errorf("payd metrics port %d, want %d", metrics, want)
	}
	rp, lp := c.ReadinessProbe, c.LivenessProbe
	if rp == nil || rp.HTTPGet == nil || rp.HTTPGet.Path != "/readyz" || rp.HTTPGet.Port.String() != "api" {
		t.Errorf("payd readiness probe %+v, want GET /readyz on port api", rp)
	}
	if lp == nil || lp.HTTPGet == nil || lp.HTTPGet.Path != "/healthz" || lp.HTTPGet.Port.String() != "api" {
		t.Errorf("payd liveness probe %+v, want GET /healthz on port api", lp)
	}
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		t.Errorf("payd has a preStop hook; it fails readiness on SIGTERM itself")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("payd resources incomplete: %+v", c.Resources)
	}
	env := func(name string) string {
		e, ok := envVar(c, name)
		if !ok {
			t.Errorf("payd has no %s", name)
		}
		return e.Value
	}
	if got := env("PAYD_REGION"); got != rel.region {
		t.Errorf("PAYD_REGION %q, want %q", got, rel.region)
	}
	if got, want := env("PAYD_ADDR"), fmt.Sprintf("$(POD_IP):%d", api); got != want {
		t.Errorf("PAYD_ADDR %q, want %q (the pod IP: payd registers that address in Consul)", got, want)
	}
	if got, want := env("PAYD_METRICS_ADDR"), fmt.Sprintf(":%d", metrics); got != want {
		t.Errorf("PAYD_METRICS_ADDR %q, want %q", got, want)
	}
	checkConsulAddr(t, rel, c, "PAYD_CONSUL_ADDR")
	// Downward API: POD_IP and HOST_IP, defined before they are used.
	for _, name := range []string{"POD_IP", "HOST_IP", "POD_NAME"} {
		e, ok := envVar(c, name)
		if !ok || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil {
			t.Errorf("payd %s does not come from the downward API", name)
		}
	}
	if got, want := envIndex(c, "HOST_IP"), envIndex(c, "PAYD_CONSUL_ADDR"); got > want {
		t.Errorf("HOST_IP is defined after PAYD_CONSUL_ADDR uses it")
	}
	// The ConfigMap the node reads: channels, notify URL = the endpoint's public URL, limits.
	cm := configMap(t, rel, d)
	for k, want := range map[string]string{
		"PAYD_NOTIFY_URL":        valString(t, v, "endpoint.publicURL"),
		"PAYD_CARD_ACQUIRER_URL": valString(t, v, "channels.cardAcquirer.url"),
		"PAYD_CHANNELSIM_URL":    valString(t, v, "channels.simulatorURL"),
		"PAYD_CHANNELS":          "channelsim",
		"PAYD_CHANNEL_RATE":      valString(t, v, "limits.channelRate"),
		"PAYD_MERCHANT_RATE":     valString(t, v, "limits.merchantRate"),
		"PAYD_MERCHANT_BURST":    valString(t, v, "limits.merchantBurst"),
	} {
		if cm.Data[k] != want {
			t.Errorf("ConfigMap %s = %q, want %q", k, cm.Data[k], want)
		}
	}
	// Channel key files come from a Secret volume mounted where the ConfigMap says.
	for _, k := range []string{"PAYD_CHANNEL_KEY_FILE", "PAYD_CHANNELSIM_KEY_FILE"} {
		checkFileFromSecret(t, d.Spec.Template.Spec, c, cm.Data[k], valString(t, v, "channels.keysSecret.name"))
	}
	// Graceful termination: longer than -shutdown-delay plus 30 s of in-flight requests.
	delay, err := time.ParseDuration(cm.Data["PAYD_SHUTDOWN_DELAY"])
	if err != nil {
		t.Fatalf("PAYD_SHUTDOWN_DELAY: %v", err)
	}
	grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil || time.Duration(*grace)*time.Second <= delay+30*time.Second {
		t.Errorf("terminationGracePeriodSeconds %v is not longer than shutdown delay %v + 30 s", grace, delay)
	}
	// The HPA owns the replica count.
	if len(rel.hpas) != 1 {
		t.Fatalf("want one HPA, got %d", len(rel.hpas))
	}
	h := rel.hpas[0]
	if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != d.Name {
		t.Errorf("HPA targets %+v, want Deployment %s", h.Spec.ScaleTargetRef, d.Name)
	}
	if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
		t.Errorf("HPA metrics %+v, want CPU", h.Spec.Metrics)
	}
	if d.Spec.Replicas != nil {
		t.Errorf("payd Deployment sets replicas while the HPA owns them")
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != valInt(t, v, "payd.autoscaling.minReplicas") ||
		h.Spec.MaxReplicas != valInt(t, v, "payd.autoscaling.maxReplicas") {
		t.Errorf("HPA replicas %v..%d do not follow the values", h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}
}

func envIndex(c corev1.Container, name string) int {
	for i, e := range c.Env {
		if e.Name == name {
			return i
		}
	}
	return -1
}

func configMap(t *testing.T, rel *release, d *appsv1.Deployment) *corev1.ConfigMap {
	t.Helper()
	c := container(t, d.Spec.Template.Spec, d.Labels["app.kubernetes.io/component"])
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil {
			continue
		}
		for _, cm := range rel.configMaps {
			if cm.Name == ef.ConfigMapRef.Name {
				return cm
			}
		}
		t.Fatalf("%s reads ConfigMap %s, which the chart does not render", d.Name, ef.ConfigMapRef.Name)
	}
	t.Fatalf("%s reads no ConfigMap", d.Name)
	return nil
}

func checkFileFromSecret(t *testing.T, spec corev1.PodSpec, c corev1.Container, path, secret string) {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if !strings.HasPrefix(path, m.MountPath+"/") {
			continue
		}
		for _, vol := range spec.Volumes {
			if vol.Name != m.Name {
				continue
			}
			if vol.Secret == nil || vol.Secret.SecretName != secret {
				t.Errorf("%s is on volume %s, which is not Secret %s", path, vol.Name, secret)
				return
			}
			file := strings.TrimPrefix(path, m.MountPath+"/")
			for _, it := range vol.Secret.Items {
				if it.Path == file {
					return
				}
			}
			t.Errorf("Secret volume %s has no item at %s", vol.Name, file)
			return
		}
	}
	t.Errorf("%s is not under any volume mount of %s", path, c.Name)
}

func checkConsulAddr(t *testing.T, rel *release, c corev1.Container, name string) {
	t.Helper()
	e, _ := envVar(c, name)
	port := valInt(t, rel.values, "consul.port")
	var want string
	switch mode := valString(t, rel.values, "consul.mode"); mode {
	case "daemonset":
		want = fmt.Sprintf("$(HOST_IP):%d", port)
		hostIP, ok := envVar(c, "HOST_IP")
		if !ok || hostIP.ValueFrom == nil || hostIP.ValueFrom.FieldRef == nil || hostIP.ValueFrom.FieldRef.FieldPath != "status.hostIP" {
			t.Errorf("%s: HOST_IP must come from status.hostIP", c.Name)
		}
	case "sidecar":
		want = fmt.Sprintf("127.0.0.1:%d", port)
	case "external":
		want = valString(t, rel.values, "consul.address")
	}
	if e.Value != want {
		t.Errorf("%s %s = %q, want %q", c.Name, name, e.Value, want)
	}
}

func checkPayedge(t *testing.T, rel *release, d *appsv1.Deployment) {
	c := container(t, d.Spec.Template.Spec, "payedge")
	port := containerPort(t, c, "http")
	if want := valInt(t, rel.values, "payedge.port"); port != want {
		t.Errorf("payedge port %d, want %d", port, want)
	}
	for what, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "http" {
			t.Errorf("payedge %s probe %+v, want GET /healthz on port http", what, p)
		}
	}
	if e, _ := envVar(c, "PAYEDGE_REGION"); e.Value != rel.region {
		t.Errorf("PAYEDGE_REGION %q, want %q", e.Value, rel.region)
	}
	if e, _ := envVar(c, "PAYEDGE_ADDR"); e.Value != fmt.Sprintf("$(POD_IP):%d", port) {
		t.Errorf("PAYEDGE_ADDR %q, want the pod IP and port %d", e.Value, port)
	}
	if e, _ := envVar(c, "PAYEDGE_ID"); !strings.Contains(e.Value, "$(POD_NAME)") {
		t.Errorf("PAYEDGE_ID %q: want one Consul service ID per pod", e.Value)
	}
	checkConsulAddr(t, rel, c, "PAYEDGE_CONSUL_ADDR")
	// The regional endpoint Service exposes payedge, as LoadBalancer or behind an Ingress.
	svc := rel.services[rel.name+"-payedge"]
	if svc == nil {
		t.Fatalf("no Service %s-payedge", rel.name)
	}
	if got := valString(t, rel.values, "payedge.service.type"); string(svc.Spec.Type) != got {
		t.Errorf("payedge Service type %s, want %s", svc.Spec.Type, got)
	}
	if svc.Spec.Type == corev1.ServiceTypeClusterIP {
		if len(rel.ingresses) != 1 {
			t.Fatalf("ClusterIP endpoint without an Ingress")
		}
		ing := rel.ingresses[0]
		host := strings.TrimPrefix(strings.TrimPrefix(valString(t, rel.values, "endpoint.publicURL"), "https://"), "http://")
		if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != host {
			t.Errorf("Ingress rules %+v, want host %s", ing.Spec.Rules, host)
		}
		if b := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service; b == nil || b.Name != svc.Name {
			t.Errorf("Ingress backend %+v, want Service %s", b, svc.Name)
		}
	} else if len(rel.ingresses) != 0 {
		t.Errorf("an Ingress next to a LoadBalancer endpoint")
	}
}

func checkNoInlineSecrets(t *testing.T, rel *release) {
	type workload struct {
		name string
		spec corev1.PodSpec
	}
	var ws []workload
	for _, d := range rel.deployments {
		ws = append(ws, workload{d.Name, d.Spec.Template.Spec})
	}
	for _, j := range rel.jobs {
		ws = append(ws, workload{j.Name, j.Spec.Template.Spec})
	}
	for _, w := range ws {
		for _, c := range append(slices.Clone(w.spec.InitContainers), w.spec.Containers...) {
			for _, e := range c.Env {
				if slices.Contains(secretEnv, e.Name) {
					if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
						e.ValueFrom.SecretKeyRef.Name == "" || e.ValueFrom.SecretKeyRef.Key == "" {
						t.Errorf("%s/%s: %s must come from a secretKeyRef, got %+v", w.name, c.Name, e.Name, e)
					}
				}
				if secretLooking.MatchString(e.Value) {
					t.Errorf("%s/%s: %s has an inline secret-looking value", w.name, c.Name, e.Name)
				}
			}
			for _, a := range append(slices.Clone(c.Command), c.Args...) {
				if secretLooking.MatchString(a) || strings.Contains(a, "-secret-key=") || strings.Contains(a, "-admin-token=") {
					t.Errorf("%s/%s: secret-looking argument %q", w.name, c.Name, a)
				}
			}
		}
	}
	for _, cm := range rel.configMaps {
		for k, v := range cm.Data {
			if slices.Contains(secretEnv, k) || secretLooking.MatchString(v) {
				t.Errorf("ConfigMap %s holds %s, a secret", cm.Name, k)
			}
		}
	}
	if payd := rel.deployments["payd"]; payd != nil {
		c := container(t, payd.Spec.Template.Spec, "payd")
		for _, name := range []string{"PAYD_DATABASE_URL", "PAYD_ADMIN_TOKEN", "PAYD_SECRET_KEY"} {
			if _, ok := envVar(c, name); !ok {
				t.Errorf("payd has no %s", name)
			}
		}
		if valString(t, rel.values, "channels.cardAcquirer.keySecret.name") != "" {
			if _, ok := envVar(c, "PAYD_CARD_ACQUIRER_KEY"); !ok {
				t.Errorf("payd has no PAYD_CARD_ACQUIRER_KEY although channels.cardAcquirer.keySecret is set")
			}
		}
	}
}

func checkMigrations(t *testing.T, rel *release, payd *appsv1.Deployment) {
	if len(rel.jobs) != 1 {
		t.Fatalf("want one Job (migrations), got %d", len(rel.jobs))
	}
	j := rel.jobs[0]
	hooks := strings.Split(j.Annotations["helm.sh/hook"], ",")
	slices.Sort(hooks)
	if !slices.Equal(hooks, []string{"pre-install", "pre-upgrade"}) {
		t.Errorf("migrations Job hook %q, want pre-install,pre-upgrade", j.Annotations["helm.sh/hook"])
	}
	if j.Annotations["helm.sh/hook-delete-policy"] == "" {
		t.Errorf("migrations Job has no hook-delete-policy")
	}
	spec := j.Spec.Template.Spec
	if spec.RestartPolicy != corev1.RestartPolicyNever && spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("Job restartPolicy %q", spec.RestartPolicy)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("migrations Job has %d containers", len(spec.Containers))
	}
	c, pc := spec.Containers[0], container(t, payd.Spec.Template.Spec, "payd")
	if c.Image != pc.Image {
		t.Errorf("migrations image %s, payd image %s: want the same", c.Image, pc.Image)
	}
	if !slices.Equal(c.Command, pc.Command) || !slices.Equal(c.Args, []string{"migrate"}) {
		t.Errorf("migrations run %v %v, want %v [migrate]", c.Command, c.Args, pc.Command)
	}
	if e, ok := envVar(c, "PAYD_DATABASE_URL"); !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Errorf("migrations Job without PAYD_DATABASE_URL from a Secret")
	}
	// A hook runs before the release's objects exist: it may use none of them.
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil {
			t.Errorf("migrations Job reads ConfigMap %s, which does not exist yet at pre-install", ef.ConfigMapRef.Name)
		}
	}
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil {
			t.Errorf("migrations Job mounts ConfigMap %s, which does not exist yet at pre-install", v.ConfigMap.Name)
		}
	}
}

// checkSelectors: every Service, PDB, HPA and NetworkPolicy selects the pods it means to.
func checkSelectors(t *testing.T, rel *release) {
	podLabels := func(component string) labels.Set {
		if d := rel.deployments[component]; d != nil {
			return d.Spec.Template.Labels
		}
		if component == "migrate" && len(rel.jobs) == 1 {
			return rel.jobs[0].Spec.Template.Labels
		}
		t.Fatalf("no pods of component %s", component)
		return nil
	}
	for comp, d := range rel.deployments {
		sel, err := metaSelector(d.Spec.Selector.MatchLabels)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("Deployment %s selector does not match its pods (%v)", comp, err)
		}
	}
	for _, s := range rel.services {
		comp := s.Labels["app.kubernetes.io/component"]
		if !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels(comp)) {
			t.Errorf("Service %s selects no %s pod", s.Name, comp)
		}
		for _, p := range s.Spec.Ports {
			c := container(t, rel.deployments[comp].Spec.Template.Spec, comp)
			containerPort(t, c, p.TargetPort.String())
		}
	}
	for _, p := range rel.pdbs {
		comp := p.Labels["app.kubernetes.io/component"]
		sel, _ := metaSelector(p.Spec.Selector.MatchLabels)
		if !sel.Matches(podLabels(comp)) {
			t.Errorf("PDB %s selects no %s pod", p.Name, comp)
		}
		if p.Spec.MinAvailable == nil {
			t.Errorf("PDB %s has no minAvailable", p.Name)
		}
	}
	if len(rel.pdbs) < 1 || rel.pdbs[0].Labels["app.kubernetes.io/component"] == "" {
		t.Errorf("no PDB for payd")
	}
	for comp, np := range rel.netpols {
		sel, _ := metaSelector(np.Spec.PodSelector.MatchLabels)
		if !sel.Matches(podLabels(comp)) {
			t.Errorf("NetworkPolicy %s selects no %s pod", np.Name, comp)
		}
	}
}

func metaSelector(m map[string]string) (labels.Selector, error) {
	if len(m) == 0 {
		return nil, errors.New("empty selector")
	}
	return labels.SelectorFromSet(m), nil
}

// checkNetworkPolicies: payd takes its API port only from payedge pods (and listed CIDRs),
// its metrics port only from the monitoring namespace; payd's egress reaches the database,
// Consul and the channels.
func checkNetworkPolicies(t *testing.T, rel *release) {
	np := rel.netpols["payd"]
	if np == nil {
		t.Fatal("no NetworkPolicy for payd")
	}
	edgeLabels := labels.Set(rel.deployments["payedge"].Spec.Template.Labels)
	monitoringNS := valString(t, rel.values, "networkPolicy.monitoringNamespace")
	// The Consul agents may poll /readyz: exactly the peers the values name.
	var agents []networkingv1.NetworkPolicyPeer
	if b, err := yaml.Marshal(val(t, rel.values, "networkPolicy.consulAgents")); err == nil {
		_ = yaml.UnmarshalStrict(b, &agents)
	}
	isAgent := func(p networkingv1.NetworkPolicyPeer) bool {
		return slices.ContainsFunc(agents, func(a networkingv1.NetworkPolicyPeer) bool { return fmt.Sprint(a) == fmt.Sprint(p) })
	}
	var apiFromEdge, metricsFromMonitoring bool
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			switch p.Port.String() {
			case "api":
				for _, from := range rule.From {
					switch {
					case isAgent(from) && valString(t, rel.values, "consul.mode") == "daemonset":
					case from.PodSelector != nil:
						sel, _ := metaSelector(from.PodSelector.MatchLabels)
						if from.NamespaceSelector != nil || !sel.Matches(edgeLabels) {
							t.Errorf("payd API port open to pods other than payedge: %+v", from)
						}
						apiFromEdge = true
					case from.IPBlock != nil:
					default:
						t.Errorf("payd API port open to %+v", from)
					}
				}
				if len(rule.From) == 0 {
					t.Errorf("payd API port open to everyone")
				}
			case "metrics":
				for _, from := range rule.From {
					if from.NamespaceSelector == nil || from.PodSelector != nil ||
						from.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != monitoringNS {
						t.Errorf("payd metrics port open to %+v, want only namespace %s", from, monitoringNS)
					}
				}
				metricsFromMonitoring = len(rule.From) > 0
			}
		}
	}
	if !apiFromEdge || !metricsFromMonitoring {
		t.Errorf("payd ingress: API from payedge %v, metrics from %s %v", apiFromEdge, monitoringNS, metricsFromMonitoring)
	}
	egressPorts := map[int32]bool{}
	for _, rule := range np.Spec.Egress {
		if len(rule.To) == 0 {
			t.Errorf("payd egress rule open to everywhere: %+v", rule)
		}
		for _, p := range rule.Ports {
			egressPorts[p.Port.IntVal] = true
		}
	}
	for what, port := range map[string]int32{"DNS": 53, "database": valInt(t, rel.values, "networkPolicy.databasePort"),
		"Consul": valInt(t, rel.values, "consul.port"), "channels": 443} {
		if !egressPorts[port] {
			t.Errorf("payd egress has no rule for %s (port %d)", what, port)
		}
	}
	if rel.netpols["payedge"] == nil || rel.netpols["migrate"] == nil {
		t.Errorf("NetworkPolicies for payedge and the migrations Job are missing")
	}
}

// promNames are the Prometheus names payd exposes, each with the OpenTelemetry instrument it
// comes from and the source file that must define that instrument: renaming an instrument in
// the code breaks this test, not the alerts silently.
var promNames = map[string][2]string{
	"paycenter_channel_breaker_state":               {"paycenter.channel.breaker.state", "resilience/metrics.go"},
	"paycenter_channel_calls_total":                 {"paycenter.channel.calls", "resilience/metrics.go"},
	"paycenter_channel_latency_milliseconds_bucket": {"paycenter.channel.latency", "resilience/metrics.go"},
	"paycenter_payments_in_doubt":                   {"paycenter.payments.in_doubt", "cmd/payd/metrics.go"},
	"paycenter_node_ready":                          {"paycenter.node.ready", "cmd/payd/metrics.go"},
	"paycenter_payments_created_total":              {"paycenter.payments.created", "cmd/payd/metrics_monitor.go"},
	"paycenter_alerts_firing":                       {"paycenter.alerts.firing", "cmd/payd/metrics_monitor.go"},
	"paycenter_recovery_backlog":                    {"paycenter.recovery.backlog", "cmd/payd/metrics_monitor.go"},
	"http_server_request_duration_seconds_count":    {"otelhttp", "core/httpapi"},
}

func TestMetricNamesExistInCode(t *testing.T) {
	root := repoRoot(t)
	for prom, src := range promNames {
		instrument, where := src[0], filepath.Join(root, src[1])
		var text []byte
		if fi, err := os.Stat(where); err == nil && fi.IsDir() {
			files, _ := filepath.Glob(filepath.Join(where, "*.go"))
			for _, f := range files {
				b, _ := os.ReadFile(f)
				text = append(text, b...)
			}
		} else {
			b, err := os.ReadFile(where)
			if err != nil {
				t.Fatalf("%s: %v", prom, err)
			}
			text = b
		}
		if !bytes.Contains(text, []byte(`"`+instrument+`"`)) && !bytes.Contains(text, []byte(instrument+"\"")) &&
			!bytes.Contains(text, []byte("/"+instrument)) {
			t.Errorf("%s: instrument %q not found in %s", prom, instrument, src[1])
		}
	}
	// The latency unit is what turns into _milliseconds.
	b, _ := os.ReadFile(filepath.Join(root, "resilience", "metrics.go"))
	if !regexp.MustCompile(`latencyUnit\s*=\s*"ms"`).Match(b) {
		t.Errorf(`resilience/metrics.go: latency unit is no longer "ms"; fix paycenter_channel_latency_milliseconds in the alerts`)
	}
}

var alertAnchors = regexp.MustCompile(`#([a-z0-9-]+)$`)

func checkMonitoring(t *testing.T, rel *release) {
	if len(rel.monitors) != 1 || len(rel.rules) != 1 {
		t.Fatalf("want one ServiceMonitor and one PrometheusRule, got %d and %d", len(rel.monitors), len(rel.rules))
	}
	sm := rel.monitors[0]
	var metricsSvc *corev1.Service
	for _, s := range rel.services {
		if labels.SelectorFromSet(sm.Spec.Selector.MatchLabels).Matches(labels.Set(s.Labels)) {
			if metricsSvc != nil {
				t.Errorf("ServiceMonitor selects more than one Service")
			}
			metricsSvc = s
		}
	}
	if metricsSvc == nil {
		t.Fatal("the ServiceMonitor selects no Service")
	}
	if !metricsSvc.Spec.PublishNotReadyAddresses {
		t.Errorf("metrics Service %s leaves unready nodes out: a drained region would not be scraped", metricsSvc.Name)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor endpoints: %d", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Path != "/metrics" || !slices.ContainsFunc(metricsSvc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
		t.Errorf("ServiceMonitor scrapes %s on port %q; want /metrics on a port of %s", ep.Path, ep.Port, metricsSvc.Name)
	}
	var regionLabel bool
	for _, rc := range ep.RelabelConfigs {
		if rc.TargetLabel == "region" && rc.Replacement != nil && *rc.Replacement == rel.region {
			regionLabel = true
		}
	}
	if !regionLabel || !ep.HonorLabels {
		t.Errorf("ServiceMonitor must set region=%q on every series and honour payd's own region label", rel.region)
	}

	book, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "runbooks", "alerts.md"))
	if err != nil {
		t.Fatalf("alert runbooks: %v", err)
	}
	anchors := markdownAnchors(book)
	base := strings.TrimSuffix(valString(t, rel.values, "monitoring.prometheusRule.runbookBaseURL"), "/") + "/alerts.md#"
	metricRE := regexp.MustCompile(`\b(paycenter_[a-z_]+|http_server_[a-z_]+)\b`)
	seen := map[string]bool{}
	for _, g := range rel.rules[0].Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			seen[r.Alert] = true
			expr := r.Expr.String()
			names := metricRE.FindAllString(expr, -1)
			if len(names) == 0 {
				t.Errorf("%s: expression names no payd metric: %s", r.Alert, expr)
			}
			for _, n := range names {
				if _, ok := promNames[n]; !ok {
					t.Errorf("%s: %s is not a metric payd exposes", r.Alert, n)
				}
			}
			if !strings.Contains(expr, `region="`+rel.region+`"`) {
				t.Errorf("%s: expression does not select region=%q", r.Alert, rel.region)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q", r.Alert, s)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", r.Alert)
			}
			u := r.Annotations["runbook_url"]
			m := alertAnchors.FindStringSubmatch(u)
			if !strings.HasPrefix(u, base) || m == nil || !anchors[m[1]] {
				t.Errorf("%s: runbook_url %q is not a section of docs/runbooks/alerts.md", r.Alert, u)
			}
			if r.For == nil || *r.For == "" {
				t.Errorf("%s: no 'for'", r.Alert)
			}
		}
	}
	for _, want := range []string{"PaycenterChannelBreakerOpen", "PaycenterChannelErrorRatioHigh", "PaycenterChannelLatencyP99High",
		"PaycenterPaymentsInDoubt", "PaycenterRegionNoReadyNode", "PaycenterHTTP5xxRatioHigh", "PaycenterPaymentSuccessRateLow",
		"PaycenterAbnormalTransactions", "PaycenterAbnormalTransactionsCritical", "PaycenterRecoveryBacklogHigh"} {
		if !seen[want] {
			t.Errorf("alert %s missing", want)
		}
	}
	for n := range promNames {
		if !strings.Contains(fmt.Sprint(rel.rules[0].Spec), n) {
			t.Errorf("no alert uses %s", n)
		}
	}
}

// markdownAnchors returns the GitHub-style anchors of a Markdown file's headings.
func markdownAnchors(md []byte) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(string(md), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range h {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		out[b.String()] = true
	}
	return out
}

func checkRegionsDiffer(t *testing.T, rels map[string]*release) {
	distinct := func(what string, f func(*release) string) {
		seen := map[string]string{}
		for r, rel := range rels {
			v := f(rel)
			if v == "" {
				t.Errorf("%s: %s is empty", r, what)
			}
			if other, dup := seen[v]; dup {
				t.Errorf("%s and %s share %s %q", r, other, what, v)
			}
			seen[v] = r
		}
	}
	distinct("PAYD_REGION", func(rel *release) string {
		e, _ := envVar(container(t, rel.deployments["payd"].Spec.Template.Spec, "payd"), "PAYD_REGION")
		return e.Value
	})
	distinct("notify URL (endpoint)", func(rel *release) string {
		return configMap(t, rel, rel.deployments["payd"]).Data["PAYD_NOTIFY_URL"]
	})
	distinct("endpoint host", func(rel *release) string {
		u := valString(t, rel.values, "endpoint.publicURL")
		if !strings.Contains(u, rel.region) {
			t.Errorf("%s: endpoint %s does not name its region", rel.region, u)
		}
		return u
	})
	distinct("Consul agents' node CIDRs", func(rel *release) string { return fmt.Sprint(val(t, rel.values, "networkPolicy.nodeCIDRs")) })
	distinct("alert group", func(rel *release) string { return rel.rules[0].Spec.Groups[0].Name })
	distinct("load balancer certificate or ingress host", func(rel *release) string {
		svc := rel.services[rel.name+"-payedge"]
		if c := svc.Annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"]; c != "" {
			if !strings.Contains(c, ":"+rel.region+"-") {
				t.Errorf("%s: load balancer certificate %s is from another AWS region", rel.region, c)
			}
			return c
		}
		if len(rel.ingresses) == 1 {
			return rel.ingresses[0].Spec.Rules[0].Host
		}
		return ""
	})
	// A region's cross-region CIDRs never include its own pods' range.
	for r, rel := range rels {
		own := fmt.Sprint(val(t, rel.values, "networkPolicy.nodeCIDRs"))
		for _, c := range val(t, rel.values, "networkPolicy.crossRegionCIDRs").([]any) {
			if strings.Contains(own, fmt.Sprint(c)) {
				t.Errorf("%s lists its own CIDR %v as another region's", r, c)
			}
		}
	}
}

func keys[M ~map[string]V, V any](m M) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestHelmTemplateVariants renders the other supported shapes and decodes them strictly.
func TestHelmTemplateVariants(t *testing.T) {
	tool(t, "helm")
	t.Run("consul agent sidecar", func(t *testing.T) {
		rel := render(t, "us-east", "consul.mode=sidecar", "consul.sidecar.retryJoin[0]=consul-server.consul.svc",
			"consul.sidecar.gossipKeySecret.name=consul-gossip")
		for _, comp := range []string{"payd", "payedge"} {
			spec := rel.deployments[comp].Spec.Template.Spec
			if len(spec.InitContainers) != 1 || spec.InitContainers[0].RestartPolicy == nil ||
				*spec.InitContainers[0].RestartPolicy != corev1.ContainerRestartPolicyAlways {
				t.Errorf("%s: want the Consul agent as a native sidecar (init container, restartPolicy Always)", comp)
			}
		}
		checkPayd(t, rel, rel.deployments["payd"])
		checkPayedge(t, rel, rel.deployments["payedge"])
		checkNoInlineSecrets(t, rel)
		checkSelectors(t, rel)
	})
	t.Run("external consul over https with ACL token", func(t *testing.T) {
		rel := render(t, "eu-west", "consul.mode=external", "consul.address=consul.internal:8501", "consul.port=8501",
			"consul.scheme=https", "consul.caSecret.name=consul-ca", "consul.aclTokenSecret.name=payd-consul-token")
		c := container(t, rel.deployments["payd"].Spec.Template.Spec, "payd")
		checkConsulAddr(t, rel, c, "PAYD_CONSUL_ADDR")
		if e, _ := envVar(c, "CONSUL_HTTP_SSL"); e.Value != "true" {
			t.Errorf("CONSUL_HTTP_SSL %q", e.Value)
		}
		checkNoInlineSecrets(t, rel)
	})
	t.Run("second card acquirer", func(t *testing.T) {
		rel := render(t, "us-east", "channels.cardAcquirer2.url=https://acquirer2.example.com",
			"channels.cardAcquirer2.keySecret.name=paycenter-card-acquirer2")
		c := container(t, rel.deployments["payd"].Spec.Template.Spec, "payd")
		if e, ok := envVar(c, "PAYD_CARD_ACQUIRER2_KEY"); !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
			e.ValueFrom.SecretKeyRef.Name != "paycenter-card-acquirer2" {
			t.Errorf("PAYD_CARD_ACQUIRER2_KEY %+v, want a secretKeyRef to paycenter-card-acquirer2", e)
		}
		if got := configMap(t, rel, rel.deployments["payd"]).Data["PAYD_CARD_ACQUIRER2_URL"]; got != "https://acquirer2.example.com" {
			t.Errorf("PAYD_CARD_ACQUIRER2_URL %q", got)
		}
		checkNoInlineSecrets(t, rel)
	})
	t.Run("fixed replicas, no autoscaler", func(t *testing.T) {
		rel := render(t, "ap-south", "payd.autoscaling.enabled=false", "payd.replicas=4")
		if len(rel.hpas) != 0 {
			t.Errorf("HPA rendered while disabled")
		}
		if r := rel.deployments["payd"].Spec.Replicas; r == nil || *r != 4 {
			t.Errorf("payd replicas %v, want 4", r)
		}
	})
	t.Run("single development node with the in-process simulator", func(t *testing.T) {
		rel := render(t, "us-east", "channels.simulatorURL=", "channels.allowInProcessSimulator=true",
			"payd.autoscaling.enabled=false", "payd.replicas=1", "payd.pdb.enabled=false")
		cm := configMap(t, rel, rel.deployments["payd"])
		if _, ok := cm.Data["PAYD_CHANNELSIM_URL"]; ok {
			t.Errorf("PAYD_CHANNELSIM_URL set without a simulator URL")
		}
		if got := cm.Data["PAYD_CHANNELS"]; got != "sim" {
			t.Errorf("PAYD_CHANNELS = %q, want sim", got)
		}
	})
	t.Run("monitoring and network policies off", func(t *testing.T) {
		rel := render(t, "us-east", "monitoring.serviceMonitor.enabled=false", "monitoring.prometheusRule.enabled=false",
			"networkPolicy.enabled=false", "migrations.enabled=false")
		if rel.kindCount["ServiceMonitor"]+rel.kindCount["PrometheusRule"]+rel.kindCount["NetworkPolicy"]+rel.kindCount["Job"] != 0 {
			t.Errorf("disabled objects rendered: %v", rel.kindCount)
		}
	})
}

// TestHelmRejects: values that would deploy something broken must not render.
func TestHelmRejects(t *testing.T) {
	tool(t, "helm")
	for _, tc := range []struct {
		name string
		set  []string
		want string
	}{
		{"no region", []string{"region="}, "region is required"},
		{"bad region", []string{"region=US_East"}, "region"},
		{"no endpoint", []string{"endpoint.publicURL="}, "endpoint.publicURL is required"},
		{"endpoint with a path", []string{"endpoint.publicURL=https://x.example.com/v1"}, "publicURL"},
		{"grace shorter than shutdown", []string{"payd.terminationGracePeriodSeconds=20"}, "terminationGracePeriodSeconds"},
		{"grace ignores a long delay", []string{"payd.shutdownDelay=1m"}, "terminationGracePeriodSeconds"},
		{"channel quota exceeded", []string{"limits.channelRate=500"}, "channelQuotaPerRegion"},
		{"no channel simulator", []string{"channels.simulatorURL="}, "channels.simulatorURL is required"},
		{"in-process simulator on many nodes", []string{"channels.simulatorURL=", "channels.allowInProcessSimulator=true"}, "exactly one payd"},
		{"daemonset consul without node CIDRs", []string{"networkPolicy.nodeCIDRs=null"}, "nodeCIDRs is required"},
		{"sidecar without servers", []string{"consul.mode=sidecar"}, "retryJoin is required"},
		{"unknown consul mode", []string{"consul.mode=dns"}, "consul"},
		{"ClusterIP endpoint without ingress", []string{"payedge.service.type=ClusterIP"}, "ingress"},
		{"PDB blocks every eviction", []string{"payd.pdb.minAvailable=3"}, "minAvailable"},
		{"misspelt value", []string{"payd.replica=3"}, "additional"},
		{"second acquirer without its key", []string{"channels.cardAcquirer2.url=https://acq2.example.com"}, "cardAcquirer2"},
		{"second acquirer without a first", []string{"channels.cardAcquirer.keySecret.name=", "channels.cardAcquirer2.url=https://acq2.example.com",
			"channels.cardAcquirer2.keySecret.name=acq2"}, "behind a first"},
		{"database URL not from a Secret", []string{"database.urlSecret.name="}, "urlSecret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errOut := renderFails(t, "us-east", tc.set...)
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("error does not mention %q:\n%s", tc.want, errOut)
			}
		})
	}
}
