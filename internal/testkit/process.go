package testkit

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// repoRoot finds the module root from this source file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// BuildPortald builds the portald binary once per test process and returns its path.
func BuildPortald(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "portald-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "portald")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/portald")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/portald: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Portald is a running portald process.
type Portald struct {
	Cmd        *exec.Cmd
	HTTPAddr   string
	ESDBListen string
	Output     *bytes.Buffer
	out        *syncBuffer
	exited     chan struct{}
}

// WaitForOutput waits until the process has printed s, and fails the test after timeout or if
// the process exits first.
func (p *Portald) WaitForOutput(t testing.TB, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p.out.mu.Lock()
		found := bytes.Contains(p.Output.Bytes(), []byte(s))
		p.out.mu.Unlock()
		if found {
			return
		}
		select {
		case <-p.exited:
			t.Fatalf("portald exited before printing %q", s)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("portald did not print %q within %v", s, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer guards the process output shared with the test.
type syncBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// StartPortald runs "portald serve" on dataDir with fresh ports plus extra args, and waits
// until /healthz answers 200. The process is killed when the test ends.
func StartPortald(t testing.TB, bin, dataDir string, extra ...string) *Portald {
	t.Helper()
	p := &Portald{HTTPAddr: FreeAddr(t), ESDBListen: FreeAddr(t), Output: &bytes.Buffer{}, exited: make(chan struct{})}
	args := append([]string{"serve", "--data-dir", dataDir, "--http-addr", p.HTTPAddr, "--esdb-listen", p.ESDBListen}, extra...)
	p.Cmd = exec.Command(bin, args...)
	out := &syncBuffer{b: p.Output}
	p.out = out
	p.Cmd.Stdout, p.Cmd.Stderr = out, out
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start portald: %v", err)
	}
	go func() { _ = p.Cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.Kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + p.HTTPAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.exited:
			out.mu.Lock()
			defer out.mu.Unlock()
			t.Fatalf("portald exited during start:\n%s", p.Output.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("portald not healthy after 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ESDBURL is the connection string of the process's embedded event store.
func (p *Portald) ESDBURL() string { return "esdb://" + p.ESDBListen + "?tls=false" }

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Portald) Kill() {
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Terminate sends SIGTERM and waits up to timeout for a clean exit; it reports the exit code.
func (p *Portald) Terminate(timeout time.Duration) (int, error) {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.Cmd.ProcessState.ExitCode(), nil
	case <-time.After(timeout):
		p.Kill()
		return -1, fmt.Errorf("portald did not stop within %v of SIGTERM", timeout)
	}
}
