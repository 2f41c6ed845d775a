package cluster

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/syncbuf"
)

const adminToken = "cluster-admin-token-0123456789abcdef0123456789abcdef"

// netns is a network namespace joined to the host by two veth pairs: one
// carries NATS (natsHost ↔ natsNS), the other HTTP (webHost ↔ webNS), so
// that the namespaced node can be cut off from NATS alone.
type netns struct {
	name             string
	natsLink         string // the namespace's end of the NATS pair
	natsHost, natsNS string
	webHost, webNS   string
	hostLinks        []string
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func newNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the cluster suite needs root: it makes a network namespace and veth pairs with `ip` (run `go test ./test/cluster/` as root, e.g. in the CI container)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("the cluster suite needs the `ip` command (iproute2)")
	}
	removeStaleNetns()
	pid := os.Getpid()
	a, b := 200+pid%50, (pid/50)%250
	n := &netns{name: fmt.Sprintf("ascl%d", pid), natsLink: fmt.Sprintf("ascn%dn", pid%100000),
		natsHost: fmt.Sprintf("10.%d.%d.1", a, b), natsNS: fmt.Sprintf("10.%d.%d.2", a, b),
		webHost: fmt.Sprintf("10.%d.%d.5", a, b), webNS: fmt.Sprintf("10.%d.%d.6", a, b)}
	hostN, hostW, nsW := fmt.Sprintf("ascn%dh", pid%100000), fmt.Sprintf("ascw%dh", pid%100000), fmt.Sprintf("ascw%dn", pid%100000)
	n.hostLinks = []string{hostN, hostW}
	t.Cleanup(func() {
		for _, l := range n.hostLinks {
			_ = ipCmd("link", "del", l)
		}
		_ = ipCmd("netns", "del", n.name)
	})
	steps := [][]string{
		{"netns", "add", n.name},
		{"link", "add", hostN, "type", "veth", "peer", "name", n.natsLink},
		{"link", "set", n.natsLink, "netns", n.name},
		{"addr", "add", n.natsHost + "/30", "dev", hostN},
		{"link", "set", hostN, "up"},
		{"-n", n.name, "addr", "add", n.natsNS + "/30", "dev", n.natsLink},
		{"-n", n.name, "link", "set", n.natsLink, "up"},
		{"link", "add", hostW, "type", "veth", "peer", "name", nsW},
		{"link", "set", nsW, "netns", n.name},
		{"addr", "add", n.webHost + "/30", "dev", hostW},
		{"link", "set", hostW, "up"},
		{"-n", n.name, "addr", "add", n.webNS + "/30", "dev", nsW},
		{"-n", n.name, "link", "set", nsW, "up"},
		{"-n", n.name, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			t.Fatalf("network namespace: %v", err)
		}
	}
	return n
}

// removeStaleNetns deletes the namespaces and veth pairs of earlier runs
// whose test process is gone (a timeout panic skips the cleanups).
func removeStaleNetns() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		pidS, ok := strings.CutPrefix(name, "ascl")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidS)
		if err != nil || fileExists(fmt.Sprintf("/proc/%d", pid)) {
			continue
		}
		for _, l := range []string{"ascn%dh", "ascw%dh"} {
			_ = ipCmd("link", "del", fmt.Sprintf(l, pid%100000))
		}
		_ = ipCmd("netns", "del", name)
	}
}

// partition cuts the namespace off from NATS (or joins it again).
func (n *netns) partition(t *testing.T, cut bool) {
	t.Helper()
	state := "up"
	if cut {
		state = "down"
	}
	if err := ipCmd("-n", n.name, "link", "set", n.natsLink, state); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// procLogMax bounds a child process's kept log (its tail is shown when
// it fails).
const procLogMax = 4 << 20

// proc is a child process that can be killed, paused and started again.
type proc struct {
	t    *testing.T
	name string
	argv []string
	env  []string
	logs *syncbuf.Buffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// start runs the process; stdout lines go to onLine as well as the logs.
func (p *proc) start(onLine func(string)) {
	p.t.Helper()
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	// A test process that dies (a timeout panic skips the cleanups) takes
	// its servers with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = p.logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(io.TeeReader(out, p.logs))
		for sc.Scan() {
			if onLine != nil {
				onLine(sc.Text())
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
}

func (p *proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// stop sends sig and waits (at most 30 s, then SIGKILL) for the exit.
func (p *proc) stop(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	p.mu.Lock()
	p.cmd = nil
	p.mu.Unlock()
}

// natsServer is one nats-server process of the cluster.
type natsServer struct {
	*proc
	name       string
	clientURL  string
	monitorURL string
}

func startNATSCluster(t *testing.T, bin, clientHost string) []*natsServer {
	t.Helper()
	dir := t.TempDir()
	var routes []string
	rports := make([]int, 3)
	for i := range rports {
		rports[i] = freePort(t, "127.0.0.1")
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", rports[i]))
	}
	var srvs []*natsServer
	for i := range 3 {
		name := fmt.Sprintf("n%d", i+1)
		cport, mport := freePort(t, clientHost), freePort(t, "127.0.0.1")
		store := filepath.Join(dir, name)
		conf := fmt.Sprintf(`server_name: %s
listen: %s:%d
http: 127.0.0.1:%d
max_payload: 8MB
jetstream { store_dir: %q, max_memory_store: 64MB, max_file_store: 2GB }
cluster {
  name: auditstream-faults
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, name, clientHost, cport, mport, store, rports[i], strings.Join(routes, ", "))
		cf := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		s := &natsServer{proc: &proc{t: t, name: name, argv: []string{bin, "-c", cf}, logs: &syncbuf.Buffer{Max: procLogMax}},
			name: name, clientURL: fmt.Sprintf("nats://%s:%d", clientHost, cport),
			monitorURL: fmt.Sprintf("http://127.0.0.1:%d", mport)}
		s.start(nil)
		t.Cleanup(func() {
			s.stop(syscall.SIGKILL)
			if t.Failed() {
				t.Logf("%s logs:\n%s", s.name, s.logs.Tail(3000))
			}
		})
		srvs = append(srvs, s)
	}
	for _, s := range srvs {
		s.waitHealthy(t)
	}
	return srvs
}

// waitHealthy waits until the server reports JetStream healthy (it has
// caught up with its peers).
func (s *natsServer) waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.monitorURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy after 60s (%v):\n%s", s.name, err, s.logs.Tail(3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// node is one auditstream serve process.
type node struct {
	*proc
	id    string
	addr  string // host:port of its API
	ready chan struct{}
}

// startNode starts serve with a config file in the config package's
// format; ns, when set, runs it in that network namespace.
func startNode(t *testing.T, bin, id, listen string, natsURLs []string, receiverNet string, ns *netns) *node {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf(`listen: %s
dataDir: %s
shutdownTimeout: 10s
journal:
  natsUrl: %s
  replicas: 3
  maxBytes: 536870912
  deadLetters:
    maxBytes: 67108864
log:
  level: info
  format: json
egress:
  allow: [%q]
cluster:
  nodeId: %s
integrity:
  keys:
    - id: %s
      privateKey: %s
`, listen, filepath.Join(dir, "data"), strings.Join(natsURLs, ","), receiverNet, id, signingKey.ID, signingKey.PrivateKey.Reveal())
	cf := filepath.Join(dir, "node.yaml")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	argv := []string{bin, "serve", "--config", cf}
	if ns != nil {
		argv = append([]string{"ip", "netns", "exec", ns.name}, argv...)
	}
	n := &node{proc: &proc{t: t, name: id, argv: argv, env: []string{"AUDITSTREAM_ADMIN_TOKEN=" + adminToken, "GOMEMLIMIT=300MiB"},
		logs: &syncbuf.Buffer{Max: procLogMax}}, id: id, addr: listen}
	t.Cleanup(func() {
		n.stop(syscall.SIGKILL)
		if dir := os.Getenv("CLUSTER_LOGS"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, n.id+".log"), []byte(n.logs.String()), 0o644)
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", n.id, n.logs.Tail(4000))
		}
	})
	n.run(t)
	return n
}

// run starts the process and waits until it serves and is ready.
func (n *node) run(t *testing.T) {
	t.Helper()
	ready := make(chan struct{})
	var once sync.Once
	n.start(func(line string) {
		if strings.HasPrefix(line, "listening on ") {
			once.Do(func() { close(ready) })
		}
	})
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	select {
	case <-ready:
	case <-done:
		t.Fatalf("%s exited at start:\n%s", n.id, n.logs.Tail(4000))
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not start in 60s:\n%s", n.id, n.logs.Tail(4000))
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, _ := n.get("/readyz")
		if code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 60s:\n%s", n.id, n.logs.Tail(4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var client = &http.Client{Timeout: 5 * time.Second}

func (n *node) get(path string) (int, []byte) {
	req, _ := http.NewRequest("GET", "http://"+n.addr+path, nil)
	req.Header.Set("Authorization", "SSWS "+adminToken)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (n *node) post(path, contentType string, body []byte) (int, []byte, error) {
	req, _ := http.NewRequest("POST", "http://"+n.addr+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "SSWS "+adminToken)
	req.Header.Set("Content-Type", contentType)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

// clusterNodes is what GET /api/v1/cluster says of the nodes.
type clusterNodes struct {
	Nodes []struct {
		ID         string   `json:"id"`
		Live       bool     `json:"live"`
		LogStreams []string `json:"logStreams"`
	} `json:"nodes"`
}

func (n *node) cluster() (clusterNodes, error) {
	var v clusterNodes
	code, body := n.get("/api/v1/cluster")
	if code != 200 {
		return v, fmt.Errorf("GET /api/v1/cluster on %s: %d %s", n.id, code, body)
	}
	err := json.Unmarshal(body, &v)
	return v, err
}

// live returns the ids of the nodes n sees live.
func (n *node) live() ([]string, error) {
	v, err := n.cluster()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, nd := range v.Nodes {
		if nd.Live {
			ids = append(ids, nd.ID)
		}
	}
	return ids, nil
}

// owned returns what each node says it owns: stream id → node id.
func (n *node) owned() (map[string]string, error) {
	v, err := n.cluster()
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, nd := range v.Nodes {
		for _, s := range nd.LogStreams {
			m[s] = nd.ID
		}
	}
	return m, nil
}
