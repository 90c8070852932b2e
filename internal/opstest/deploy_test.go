package opstest

import (
	"context"
	"debug/elf"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/actionhub/actionhub/internal/benchkit"
	"github.com/actionhub/actionhub/server"
)

// deployDir is the repository's deploy/ folder.
func deployDir(t *testing.T) string {
	t.Helper()
	root, err := benchkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "deploy")
}

// manifests parses every YAML file under deploy/ and returns the documents by kind.
func manifests(t *testing.T) map[string][]map[string]any {
	t.Helper()
	dir := deployDir(t)
	byKind := map[string][]map[string]any{}
	files := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		docs, err := parseYAML(string(b))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		for _, d := range docs {
			m, ok := d.(map[string]any)
			if !ok || str(m, "apiVersion") == "" || str(m, "kind") == "" || str(m, "metadata", "name") == "" {
				t.Errorf("%s: a document without apiVersion, kind and metadata.name", p)
				continue
			}
			m["_file"] = p
			kind := str(m, "kind")
			if str(m, "apiVersion") == "serving.knative.dev/v1" {
				kind = "knative/" + kind
			}
			byKind[kind] = append(byKind[kind], m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("%d YAML files under %s, want the four Kubernetes files and the Cloud Run service", files, dir)
	}
	return byKind
}

func one(t *testing.T, byKind map[string][]map[string]any, kind string) map[string]any {
	t.Helper()
	if len(byKind[kind]) != 1 {
		t.Fatalf("%d %s documents, want 1", len(byKind[kind]), kind)
	}
	return byKind[kind][0]
}

// containerEnv returns a container's env entries with literal values.
func containerEnv(c any) map[string]string {
	out := map[string]string{}
	list, _ := path(c, "env").([]any)
	for _, e := range list {
		if n := str(e, "name"); n != "" {
			out[n] = str(e, "value")
		}
	}
	return out
}

// portNumber resolves a probe's or a Service's port (a number or a container port name).
func portNumber(container any, port string) string {
	if _, err := strconv.Atoi(port); err == nil {
		return port
	}
	ports, _ := path(container, "ports").([]any)
	for _, p := range ports {
		if str(p, "name") == port {
			return str(p, "containerPort")
		}
	}
	return ""
}

func TestDeployKubernetes(t *testing.T) {
	byKind := manifests(t)
	dep := one(t, byKind, "Deployment")
	svc := one(t, byKind, "Service")
	hpa := one(t, byKind, "HorizontalPodAutoscaler")
	sec := one(t, byKind, "Secret")
	name := str(dep, "metadata", "name")
	if str(dep, "apiVersion") != "apps/v1" {
		t.Errorf("Deployment apiVersion %q", str(dep, "apiVersion"))
	}
	labels, _ := path(dep, "spec", "template", "metadata", "labels").(map[string]any)
	selector, _ := path(dep, "spec", "selector", "matchLabels").(map[string]any)
	if len(selector) == 0 {
		t.Error("Deployment has no selector")
	}
	for k, v := range selector {
		if labels[k] != v {
			t.Errorf("the Deployment's selector %s=%v does not match its pod labels %v", k, v, labels)
		}
	}
	containers, _ := path(dep, "spec", "template", "spec", "containers").([]any)
	if len(containers) != 1 {
		t.Fatalf("%d containers, want 1", len(containers))
	}
	c := containers[0]
	if str(c, "image") == "" {
		t.Error("container without image")
	}
	env := containerEnv(c)

	// Probes: readiness on /readyz, liveness on /healthz, on the port that serves them.
	opsPort := portNumber(c, "8080")
	if addr := env["ACTION_HUB_METRICS_ADDR"]; addr != "" {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("ACTION_HUB_METRICS_ADDR %q: %v", addr, err)
		}
		opsPort = p
	} else if p := env["PORT"]; p != "" {
		opsPort = p
	}
	for probe, want := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		if got := str(c, probe, "httpGet", "path"); got != want {
			t.Errorf("%s path %q, want %q", probe, got, want)
		}
		if got := portNumber(c, str(c, probe, "httpGet", "port")); got != opsPort {
			t.Errorf("%s port is %q, but /readyz and /healthz are served on %q", probe, got, opsPort)
		}
	}
	// Resources.
	for _, k := range []string{"limits", "requests"} {
		for _, r := range []string{"cpu", "memory"} {
			if str(c, "resources", k, r) == "" {
				t.Errorf("no resources.%s.%s", k, r)
			}
		}
	}
	// Non-root, at pod or container level.
	pod := path(dep, "spec", "template", "spec", "securityContext")
	nonRoot := str(c, "securityContext", "runAsNonRoot") == "true" || str(pod, "runAsNonRoot") == "true"
	uid := str(c, "securityContext", "runAsUser")
	if uid == "" {
		uid = str(pod, "runAsUser")
	}
	if !nonRoot || uid == "0" {
		t.Errorf("the pod may run as root: runAsNonRoot=%v runAsUser=%q", nonRoot, uid)
	}
	if str(c, "securityContext", "allowPrivilegeEscalation") != "false" {
		t.Error("allowPrivilegeEscalation is not false")
	}
	// envFrom the Secret.
	secretName := str(sec, "metadata", "name")
	fromSecret := false
	envFrom, _ := path(c, "envFrom").([]any)
	for _, e := range envFrom {
		if str(e, "secretRef", "name") == secretName {
			fromSecret = true
		}
	}
	if !fromSecret {
		t.Errorf("the container does not take its environment from Secret %q: %v", secretName, envFrom)
	}
	// The Secret has the four variables a production hub needs.
	data, _ := path(sec, "stringData").(map[string]any)
	if data == nil {
		data, _ = path(sec, "data").(map[string]any)
	}
	for _, k := range []string{"ACTION_HUB_BASE_URL", "ACTION_HUB_LABEL", "ACTION_HUB_SECRET", "CIPHER_MASTER"} {
		if _, ok := data[k]; !ok {
			t.Errorf("Secret %s lacks %s", secretName, k)
		}
	}
	// The Deployment's environment, with the Secret, is a valid production configuration,
	// and the grace period outlasts the drain.
	all := map[string]string{}
	for k, v := range data {
		all[k], _ = v.(string)
	}
	for k, v := range env {
		all[k] = v
	}
	cfg, err := server.LoadConfig(func(k string) string { return all[k] }, server.Production)
	if err != nil {
		t.Fatalf("the manifests' environment does not load: %v", err)
	}
	if _, p, _ := net.SplitHostPort(cfg.Addr); portNumber(c, "http") != p {
		t.Errorf("the hub listens on %s but the container port http is %q", cfg.Addr, portNumber(c, "http"))
	}
	grace, err := strconv.Atoi(str(dep, "spec", "template", "spec", "terminationGracePeriodSeconds"))
	if err != nil || time.Duration(grace)*time.Second <= cfg.ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds %q must exceed the drain deadline %s", str(dep, "spec", "template", "spec", "terminationGracePeriodSeconds"), cfg.ShutdownTimeout)
	}
	if cfg.MaxBodyBytes <= 0 || cfg.MetricsAddr == "" {
		t.Errorf("config %+v", cfg)
	}

	// The Service selects the Deployment's pods and targets the hub's port.
	sel, _ := path(svc, "spec", "selector").(map[string]any)
	if len(sel) == 0 {
		t.Error("Service without selector")
	}
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("the Service selects %s=%v, which the Deployment's pods do not carry", k, v)
		}
	}
	ports, _ := path(svc, "spec", "ports").([]any)
	if len(ports) == 0 {
		t.Fatal("Service without ports")
	}
	for _, p := range ports {
		target := str(p, "targetPort")
		if target == "" {
			target = str(p, "port")
		}
		if portNumber(c, target) == "" {
			t.Errorf("Service port targets %q, which is not a container port", target)
		}
	}
	// The HPA scales the Deployment.
	if str(hpa, "spec", "scaleTargetRef", "kind") != "Deployment" || str(hpa, "spec", "scaleTargetRef", "name") != name ||
		str(hpa, "spec", "scaleTargetRef", "apiVersion") != "apps/v1" {
		t.Errorf("HPA targets %v, want Deployment %s", path(hpa, "spec", "scaleTargetRef"), name)
	}
	minR, _ := strconv.Atoi(str(hpa, "spec", "minReplicas"))
	maxR, _ := strconv.Atoi(str(hpa, "spec", "maxReplicas"))
	if minR < 1 || maxR < minR {
		t.Errorf("HPA replicas %d..%d", minR, maxR)
	}
}

func TestDeployCloudRun(t *testing.T) {
	run := one(t, manifests(t), "knative/Service")
	spec := path(run, "spec", "template", "spec")
	c := path(spec, "containers", 0)
	if img := str(c, "image"); img == "" || !strings.Contains(img, "actionhub") {
		t.Errorf("image %q", img)
	}
	if p := str(c, "ports", 0, "containerPort"); p != "8080" {
		t.Errorf("containerPort %q, want 8080 (the hub's PORT default)", p)
	}
	timeout, err := strconv.Atoi(str(spec, "timeoutSeconds"))
	if err != nil || timeout < 300 || timeout > 3600 {
		t.Errorf("timeoutSeconds %q: want 300..3600 (Cloud Run's maximum) for long executes", str(spec, "timeoutSeconds"))
	}
	if str(c, "resources", "limits", "memory") == "" {
		t.Error("no memory limit")
	}
	if got := str(c, "livenessProbe", "httpGet", "path"); got != "/healthz" {
		t.Errorf("livenessProbe %q", got)
	}
	names := map[string]bool{}
	envs, _ := path(c, "env").([]any)
	for _, e := range envs {
		names[str(e, "name")] = true
		if strings.Contains(str(e, "name"), "SECRET") || str(e, "name") == "CIPHER_MASTER" {
			if str(e, "value") != "" || str(e, "valueFrom", "secretKeyRef", "name") == "" {
				t.Errorf("%s must come from Secret Manager, not a literal", str(e, "name"))
			}
		}
	}
	for _, k := range []string{"ACTION_HUB_BASE_URL", "ACTION_HUB_LABEL", "ACTION_HUB_SECRET", "CIPHER_MASTER"} {
		if !names[k] {
			t.Errorf("Cloud Run service lacks %s", k)
		}
	}
}

func TestDockerfile(t *testing.T) {
	dir := deployDir(t)
	b, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var from, user, entry []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			from = append(from, f[1])
		case "USER":
			user = append(user, f[1])
		case "ENTRYPOINT":
			entry = append(entry, strings.Join(f[1:], " "))
		}
	}
	if len(from) != 1 || !regexp.MustCompile(`^gcr\.io/distroless/static(-debian\d+)?:nonroot$`).MatchString(from[0]) {
		t.Errorf("base image %v, want gcr.io/distroless/static…:nonroot", from)
	}
	if len(user) == 0 || (user[len(user)-1] != "nonroot" && !strings.HasPrefix(user[len(user)-1], "65532")) {
		t.Errorf("USER %v, want the distroless nonroot user", user)
	}
	if len(entry) != 1 || !strings.Contains(entry[0], `"/actionhub"`) {
		t.Errorf("ENTRYPOINT %v", entry)
	}
	script, err := os.ReadFile(filepath.Join(dir, "build-image.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`CGO_ENABLED=0 [^\n]*go build [^\n]*\./cmd/actionhub`).Match(script) {
		t.Errorf("build-image.sh does not build ./cmd/actionhub with CGO_ENABLED=0:\n%s", script)
	}
}

// TestStaticBinary checks that cmd/actionhub built with CGO_ENABLED=0 (as build-image.sh
// does) is a static ELF: no interpreter and no dynamic section, so it runs on
// distroless/static, which has no libc.
func TestStaticBinary(t *testing.T) {
	bin := binary(t, benchkit.ProductionHub)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v: the binary is dynamically linked", p.Type)
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Error("the binary has a .dynamic section")
	}
	if s := f.Section(".interp"); s != nil {
		t.Error("the binary has an .interp section")
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary imports %v", libs)
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsThroughMain scrapes /metrics of the real binary (server.Main's wiring) on the
// main port after an action list.
func TestMetricsThroughMain(t *testing.T) {
	h := startHub(t, benchkit.ProductionHub, nil)
	l := benchkit.NewLooker(h.URL, h.Key, 1)
	if r, err := l.Do(context.Background(), http.MethodPost, "/", map[string]any{}); err != nil || r.Status != 200 {
		t.Fatalf("list: %v %v", r, err)
	}
	st, body := get(t, h.URL+"/metrics")
	if st != 200 {
		t.Fatalf("/metrics %d", st)
	}
	for _, want := range []string{`actionhub_requests_total{action="",route="list",status="200"} 1`, "actionhub_executes_in_flight 0",
		"go_goroutines ", "process_resident_memory_bytes "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for p, want := range map[string]string{"/healthz": `{"status":"ok"}`, "/readyz": `{"status":"ready"}`} {
		if st, body := get(t, h.URL+p); st != 200 || body != want {
			t.Errorf("%s: %d %s", p, st, body)
		}
	}
	if strings.Contains(body, benchkit.Secret) || strings.Contains(body, h.Key) {
		t.Error("a secret in /metrics")
	}
}

// TestMetricsSeparatePort: with ACTION_HUB_METRICS_ADDR the ops endpoints move to that
// address and leave the Action API port.
func TestMetricsSeparatePort(t *testing.T) {
	port, err := benchkit.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ops := "http://127.0.0.1:" + strconv.Itoa(port)
	h := startHub(t, benchkit.ProductionHub, map[string]string{"ACTION_HUB_METRICS_ADDR": "127.0.0.1:" + strconv.Itoa(port)})
	l := benchkit.NewLooker(h.URL, h.Key, 1)
	if r, err := l.Do(context.Background(), http.MethodPost, "/", map[string]any{}); err != nil || r.Status != 200 {
		t.Fatalf("list: %v %v", r, err)
	}
	st, body := get(t, ops+"/metrics")
	if st != 200 || !strings.Contains(body, `actionhub_requests_total{action="",route="list",status="200"} 1`) {
		t.Fatalf("/metrics on the metrics port: %d\n%s", st, body)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if st, _ := get(t, ops+p); st != 200 {
			t.Errorf("%s on the metrics port: %d", p, st)
		}
		if st, body := get(t, h.URL+p); st != 404 || !strings.HasPrefix(body, `{"success":false`) {
			t.Errorf("%s on the API port: %d %s", p, st, body)
		}
	}
	if st, body := get(t, h.URL+"/metrics"); st != 404 || !strings.HasPrefix(body, `{"success":false`) {
		t.Errorf("/metrics on the API port: %d %.100s", st, body)
	}
	// The three 404s of the API port are counted on the metrics port.
	_, body = get(t, ops+"/metrics")
	if !strings.Contains(body, `actionhub_requests_total{action="",route="other",status="404"} 3`) {
		t.Errorf("404s not counted:\n%s", grepLines(body, "actionhub_requests_total"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
