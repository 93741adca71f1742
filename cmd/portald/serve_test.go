package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/portal-access/backend/internal/testkit"
)

func runBinary(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("portald %v did not exit", args)
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

func TestServeRefusesBadInputWithOneLineError(t *testing.T) {
	bin := testkit.BuildPortald(t)
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown flag", []string{"serve", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"bad log level", []string{"serve", "--log-level", "loud", "--data-dir", t.TempDir()}, 2, "bad --log-level"},
		{"unreachable event store", []string{"serve", "--eventstore", "esdb://127.0.0.1:1?tls=false", "--http-addr", "127.0.0.1:0", "--auth", "dev", "--data-dir", t.TempDir()}, 1, "event store at esdb://127.0.0.1:1?tls=false is not reachable"},
		{"bad event store URL", []string{"serve", "--eventstore", "http://x", "--http-addr", "127.0.0.1:0", "--auth", "dev", "--data-dir", t.TempDir()}, 1, "bad connection string"},
		{"unreachable redis", []string{"serve", "--data-dir", t.TempDir(), "--esdb-listen", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--redis", "redis://127.0.0.1:1"}, 1, "redis at 127.0.0.1:1 is not reachable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runBinary(t, bin, tc.args...)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d; output:\n%s", code, tc.code, out)
			}
			var errLine string
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if strings.HasPrefix(l, "portald: ") {
					errLine = l
				}
			}
			if !strings.Contains(errLine, tc.msg) {
				t.Fatalf("no one-line error containing %q in:\n%s", tc.msg, out)
			}
		})
	}
}

func TestServeHealthAndCleanShutdown(t *testing.T) {
	bin := testkit.BuildPortald(t)
	dir := t.TempDir()
	p := testkit.StartPortald(t, bin, dir)
	resp, err := http.Get("http://" + p.HTTPAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Status     string
		Components map[string]struct{ Status string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if body.Status != "ok" || body.Components["eventstore"].Status != "up" || body.Components["redis"].Status != "up" {
		t.Fatalf("healthz: %+v", body)
	}

	// A second process on the same data directory is refused with a clear message.
	code, out := runBinary(t, bin, "serve", "--data-dir", dir, "--esdb-listen", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(out, "in use by another process") {
		t.Fatalf("second process on %s: exit %d\n%s", dir, code, out)
	}

	code, err = p.Terminate(20 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit %d, %v\n%s", code, err, p.Output.String())
	}
	if !strings.Contains(p.Output.String(), "stopped cleanly") {
		t.Fatalf("no clean stop in log:\n%s", p.Output.String())
	}
}
