package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portal-access/backend/internal/testkit"
)

// startEventStore runs "portald eventstore" and waits for its "listening" line.
func startEventStore(t *testing.T, bin, dir, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "eventstore", "--data-dir", dir, "--listen", addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errBuf := &strings.Builder{}
	cmd.Stderr = errBuf
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("portald eventstore:\n%s", errBuf.String())
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, "esdb://"+addr) {
		t.Fatalf("portald eventstore: %q %v", line, err)
	}
	return cmd
}

// TestServeOnAStandaloneEventStoreThatStopsAndReturns runs the binaries as an operator would:
// "portald eventstore" on its own, "portald serve --eventstore" against it; the event store is
// stopped (SIGTERM: it exits 0) and started again on the same data, and the service, never
// restarted, refuses commands meanwhile with a 503 problem and then takes them again, with
// nothing lost.
func TestServeOnAStandaloneEventStoreThatStopsAndReturns(t *testing.T) {
	bin := testkit.BuildPortald(t)
	esDir, addr := t.TempDir(), testkit.FreeAddr(t)
	es := startEventStore(t, bin, esDir, addr)
	secret := strings.Repeat("s", 32)
	p := testkit.StartPortald(t, bin, t.TempDir(), "--eventstore", "esdb://"+addr+"?tls=false", "--auth", "dev", "--dev-secret", secret, "--demo")
	api := "http://" + p.HTTPAddr
	ada := mintToken(t, bin, "--dev-secret", secret, "--tenant", "demo", "--sub", "demo-ada")
	// serve --demo answers /healthz before the demo data is in: wait for it.
	p.WaitForOutput(t, "portald is serving", 30*time.Second)
	company := func(name string) (int, string) {
		return post(t, api+"/v1/companies", ada, map[string]any{"name": name, "kind": "customer"})
	}
	if code, body := company("Before"); code != 201 {
		t.Fatalf("before the outage: %d %s", code, body)
	}

	if err := es.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := es.Wait(); err != nil {
		t.Fatalf("portald eventstore on SIGTERM: %v", err)
	}
	code, body := company("During")
	if code != 503 || !strings.Contains(body, `"code":"event-store-unavailable"`) {
		t.Fatalf("with the event store stopped: %d %s", code, body)
	}

	startEventStore(t, bin, esDir, addr)
	deadline := time.Now().Add(20 * time.Second)
	for code, body = company("After"); code != 201; code, body = company("After") {
		if code != 503 || time.Now().After(deadline) {
			t.Fatalf("after the event store returned: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Both companies are projected; the refused one is nowhere.
	for range 100 {
		req, _ := http.NewRequest("GET", api+"/v1/me/companies?limit=200", nil)
		req.Header.Set("Authorization", "Bearer "+ada)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		s := string(raw)
		if strings.Contains(s, `"name":"During"`) {
			t.Fatalf("a refused command's company is listed: %s", s)
		}
		if strings.Contains(s, `"name":"Before"`) && strings.Contains(s, `"name":"After"`) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal(fmt.Errorf("the companies written around the outage never both showed"))
}
