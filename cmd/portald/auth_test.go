package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/portal-access/backend/internal/testkit"
)

// runSplit runs the binary and returns its exit code, stdout and stderr apart.
func runSplit(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("portald %v did not exit", args)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// post sends a JSON command with a bearer token and returns the status and body.
func post(t *testing.T, url, token string, body any) (int, string) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// mintToken runs "portald token" and checks that stdout holds the token and nothing else.
func mintToken(t *testing.T, bin string, args ...string) string {
	t.Helper()
	code, stdout, stderr := runSplit(t, bin, append([]string{"token"}, args...)...)
	if code != 0 {
		t.Fatalf("portald token %v: exit %d\n%s%s", args, code, stdout, stderr)
	}
	tok := strings.TrimSuffix(stdout, "\n")
	if strings.ContainsAny(tok, " \n") || strings.Count(tok, ".") != 2 || stderr != "" {
		t.Fatalf("portald token printed more than a token: stdout %q stderr %q", stdout, stderr)
	}
	return tok
}

var invitationLine = regexp.MustCompile(`(?m)^\s*invitation token:\s+(\S+)\s*$`)

// createTenant runs "portald tenant create" for tenant id with the extra args and returns the
// invitation token it printed.
func createTenant(t *testing.T, bin, id string, extra ...string) string {
	t.Helper()
	args := append([]string{"tenant", "create", "--id", id, "--name", "Tenant " + id, "--seats", "3",
		"--admin-email", "ann@" + id + ".example", "--admin-name", "Ann Admin"}, extra...)
	code, stdout, stderr := runSplit(t, bin, args...)
	if code != 0 {
		t.Fatalf("tenant create %s: exit %d\n%s%s", id, code, stdout, stderr)
	}
	m := invitationLine.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no invitation token in:\n%s", stdout)
	}
	for _, want := range []string{"tenant id:            " + id, "admin person id:", "portald token --tenant " + id + " --sub <your-login>",
		"curl -X POST http://", "/v1/invitations/accept", `-d '{"token":"` + m[1] + `"}'`} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("tenant create output lacks %q:\n%s", want, stdout)
		}
	}
	return m[1]
}

// acceptAndRegister accepts the first admin's invitation with token and registers a company.
func acceptAndRegister(t *testing.T, api, token, invitation string) {
	t.Helper()
	if code, body := post(t, api+"/v1/invitations/accept", token, map[string]any{"token": invitation}); code != http.StatusOK {
		t.Fatalf("accept invitation: %d %s", code, body)
	}
	if code, body := post(t, api+"/v1/companies", token, map[string]any{"name": "Globex", "kind": "customer"}); code != http.StatusCreated {
		t.Fatalf("register company: %d %s", code, body)
	}
}

func TestDevAuthTokenAndTenantCreateAgainstRunningServe(t *testing.T) {
	bin := testkit.BuildPortald(t)
	dir := t.TempDir()
	p := testkit.StartPortald(t, bin, dir)
	api := "http://" + p.HTTPAddr
	keyPath := filepath.Join(dir, "dev-signing-key")
	info, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(keyPath)
	if info.Mode().Perm() != 0o600 || !regexp.MustCompile(`^[0-9a-f]{64}\n$`).Match(key) {
		t.Fatalf("dev-signing-key: mode %o, content %q", info.Mode().Perm(), key)
	}

	// Through the running service's event store, named explicitly.
	inv := createTenant(t, bin, "acme", "--eventstore", p.ESDBURL(), "--api-url", api)
	tok := mintToken(t, bin, "--data-dir", dir, "--tenant", "acme", "--sub", "ann-login")
	// Before accepting, the login is not bound: commands other than accepting are refused.
	if code, body := post(t, api+"/v1/companies", tok, map[string]any{"name": "Early", "kind": "customer"}); code != http.StatusForbidden {
		t.Fatalf("unbound login: %d %s", code, body)
	}
	acceptAndRegister(t, api, tok, inv)
	// Accepted once only.
	if code, _ := post(t, api+"/v1/invitations/accept", tok, map[string]any{"token": inv}); code == http.StatusOK {
		t.Fatal("invitation accepted twice")
	}

	// Again: the tenant exists.
	code, stdout, stderr := runSplit(t, bin, "tenant", "create", "--eventstore", p.ESDBURL(), "--id", "acme", "--name", "Acme",
		"--seats", "3", "--admin-email", "x@acme.example", "--admin-name", "X")
	if code != 1 || stdout != "" || !oneLineError(stderr, `tenant "acme" exists`) {
		t.Fatalf("second create: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// Found through the running portald's event store address (no --eventstore, no --data-dir),
	// and with the data directory named while the service holds it.
	inv2 := createTenant(t, bin, "globex", "--esdb-listen", p.ESDBListen)
	inv3 := createTenant(t, bin, "initech", "--data-dir", dir, "--esdb-listen", p.ESDBListen)
	acceptAndRegister(t, api, mintToken(t, bin, "--data-dir", dir, "--tenant", "globex", "--sub", "g-admin"), inv2)
	acceptAndRegister(t, api, mintToken(t, bin, "--dev-secret", strings.TrimSpace(string(key)), "--tenant", "initech", "--sub", "i-admin"), inv3)

	// A service token authenticates as a service (it is not a user, so it cannot act as one here).
	svc := mintToken(t, bin, "--data-dir", dir, "--tenant", "acme", "--sub", "crm-sync", "--service", "--scopes", "tickets:read,tickets:write", "--ttl", "5m")
	if code, body := post(t, api+"/v1/companies", svc, map[string]any{"name": "Svc", "kind": "customer"}); code == http.StatusUnauthorized {
		t.Fatalf("service token not authenticated: %d %s", code, body)
	}
	// A token signed with another secret, or none, is refused.
	foreign := mintToken(t, bin, "--dev-secret", strings.Repeat("z", 40), "--tenant", "acme", "--sub", "ann-login")
	for _, tk := range []string{foreign, ""} {
		if code, body := post(t, api+"/v1/companies", tk, map[string]any{"name": "X", "kind": "customer"}); code != http.StatusUnauthorized {
			t.Fatalf("bad token: %d %s", code, body)
		}
	}

	// The service warned at start that development authentication is on (read once it exited:
	// the output buffer is written by the process until then).
	if code, err := p.Terminate(20 * time.Second); err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit %d, %v", code, err)
	}
	out := p.Output.String()
	if !regexp.MustCompile(`level=WARN msg="DEVELOPMENT AUTHENTICATION IS ENABLED[^"]*portald token`).MatchString(out) {
		t.Fatalf("no development-authentication warning in:\n%s", out)
	}
}

func TestTenantCreateWithoutServerThenServe(t *testing.T) {
	bin := testkit.BuildPortald(t)
	dir := t.TempDir()
	// Nothing listens at --esdb-listen: the data directory is opened in-process.
	code, stdout, stderr := runSplit(t, bin, "tenant", "create", "--esdb-listen", testkit.FreeAddr(t), "--data-dir", dir, "--json",
		"--id", "acme", "--name", "Acme", "--seats", "2", "--admin-email", "ann@acme.example", "--admin-name", "Ann Admin", "--provider-name", "Acme Support")
	if code != 0 {
		t.Fatalf("tenant create: exit %d\n%s%s", code, stdout, stderr)
	}
	var res struct {
		Tenant          string `json:"tenant"`
		AdminPersonID   string `json:"admin_person_id"`
		InvitationToken string `json:"invitation_token"`
		EventStore      string `json:"event_store"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %q", err, stdout)
	}
	if res.Tenant != "acme" || res.AdminPersonID == "" || res.InvitationToken == "" || !strings.Contains(res.EventStore, "in-process") {
		t.Fatalf("result %+v", res)
	}

	// The service started later on that data directory sees the tenant.
	p := testkit.StartPortald(t, bin, dir)
	tok := mintToken(t, bin, "--data-dir", dir, "--tenant", "acme", "--sub", "ann-login")
	acceptAndRegister(t, "http://"+p.HTTPAddr, tok, res.InvitationToken)

	// The data directory is held by the service now; without its address the tool says so.
	code, _, stderr = runSplit(t, bin, "tenant", "create", "--esdb-listen", testkit.FreeAddr(t), "--data-dir", dir,
		"--id", "other", "--name", "Other", "--seats", "1", "--admin-email", "o@other.example", "--admin-name", "O")
	if code != 1 || !oneLineError(stderr, "in use by a running portald") {
		t.Fatalf("locked data dir: exit %d\n%s", code, stderr)
	}
}

func TestServeWithOIDC(t *testing.T) {
	bin := testkit.BuildPortald(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var issuer string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	idp := httptest.NewUnstartedServer(mux)
	issuer = "http://" + idp.Listener.Addr().String()
	idp.Start()
	defer idp.Close()

	dir := t.TempDir()
	p := testkit.StartPortald(t, bin, dir, "--auth", "oidc", "--oidc-issuer", issuer, "--oidc-audience", "portal-api",
		"--oidc-tenant-claim", "org")
	if _, err := os.Stat(filepath.Join(dir, "dev-signing-key")); err == nil {
		t.Fatal("oidc mode created a development signing key")
	}
	inv := createTenant(t, bin, "acme", "--eventstore", p.ESDBURL())
	sign := func(claims jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now()
	claims := jwt.MapClaims{"iss": issuer, "aud": "portal-api", "sub": "auth0|ann", "org": "acme", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	acceptAndRegister(t, "http://"+p.HTTPAddr, sign(claims), inv)

	// A development token is not accepted by an OIDC service.
	key32 := strings.Repeat("k", 32)
	dev := mintToken(t, bin, "--dev-secret", key32, "--tenant", "acme", "--sub", "auth0|ann")
	if code, body := post(t, "http://"+p.HTTPAddr+"/v1/companies", dev, map[string]any{"name": "X", "kind": "customer"}); code != http.StatusUnauthorized {
		t.Fatalf("dev token on an oidc service: %d %s", code, body)
	}
	claims["aud"] = "another-api"
	if code, _ := post(t, "http://"+p.HTTPAddr+"/v1/companies", sign(claims), map[string]any{"name": "X", "kind": "customer"}); code != http.StatusUnauthorized {
		t.Fatalf("wrong audience accepted: %d", code)
	}
	if code, err := p.Terminate(20 * time.Second); err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit %d, %v", code, err)
	}
	if out := p.Output.String(); strings.Contains(out, "DEVELOPMENT AUTHENTICATION") || !strings.Contains(out, "authentication: OpenID Connect") {
		t.Fatalf("oidc mode start log:\n%s", out)
	}
}

func TestAuthCommandsRefuseBadInputWithOneLineError(t *testing.T) {
	bin := testkit.BuildPortald(t)
	empty := t.TempDir()
	noServer := testkit.FreeAddr(t)
	wrongIssuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"issuer":"https://someone-else.example","jwks_uri":"https://someone-else.example/keys"}`)
	}))
	defer wrongIssuer.Close()
	serve := func(extra ...string) []string {
		return append([]string{"serve", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--esdb-listen", "127.0.0.1:0"}, extra...)
	}
	create := func(extra ...string) []string {
		base := []string{"tenant", "create", "--esdb-listen", noServer, "--data-dir", t.TempDir(), "--id", "acme", "--name", "Acme",
			"--seats", "2", "--admin-email", "ann@acme.example", "--admin-name", "Ann"}
		return append(base, extra...)
	}
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"serve: bad --auth", serve("--auth", "magic"), 2, `bad --auth "magic"`},
		{"serve: oidc without issuer", serve("--auth", "oidc"), 2, "--oidc-issuer and --oidc-audience are required with --auth oidc"},
		{"serve: external store defaults to oidc", []string{"serve", "--eventstore", "esdb://127.0.0.1:1?tls=false", "--http-addr", "127.0.0.1:0"}, 2,
			"--oidc-issuer and --oidc-audience are required with --eventstore"},
		{"serve: oidc over plain http", serve("--auth", "oidc", "--oidc-issuer", "http://id.example", "--oidc-audience", "a"), 2, "https"},
		{"serve: issuer mismatch", serve("--auth", "oidc", "--oidc-issuer", wrongIssuer.URL, "--oidc-audience", "a"), 1, `names itself "https://someone-else.example"`},
		{"serve: oidc flag in dev mode", serve("--oidc-issuer", "https://id.example"), 2, "--oidc-issuer needs --auth oidc"},
		{"serve: dev secret in oidc mode", serve("--auth", "oidc", "--oidc-issuer", "https://id.example", "--oidc-audience", "a", "--dev-secret", strings.Repeat("s", 32)), 2, "--dev-secret needs --auth dev"},
		{"serve: short dev secret", serve("--dev-secret", "short"), 2, "--dev-secret must be at least 32 characters"},
		{"token: no tenant", []string{"token", "--sub", "ann"}, 2, "--tenant is required"},
		{"token: no sub", []string{"token", "--tenant", "acme"}, 2, "--sub is required"},
		{"token: scopes of a user", []string{"token", "--tenant", "acme", "--sub", "ann", "--scopes", "tickets:read"}, 2, "--scopes is only for service tokens"},
		{"token: negative ttl", []string{"token", "--tenant", "acme", "--sub", "ann", "--ttl", "-1h"}, 2, "--ttl must be positive"},
		{"token: bad ttl", []string{"token", "--tenant", "acme", "--sub", "ann", "--ttl", "soon"}, 2, "invalid value"},
		{"token: no key file", []string{"token", "--tenant", "acme", "--sub", "ann", "--data-dir", empty}, 1, "no development signing key at"},
		{"token: short secret", []string{"token", "--tenant", "acme", "--sub", "ann", "--dev-secret", "short"}, 2, "at least 32 characters"},
		{"token: both sources", []string{"token", "--tenant", "acme", "--sub", "ann", "--data-dir", empty, "--dev-secret", strings.Repeat("s", 32)}, 2, "not both"},
		{"tenant: no subcommand", []string{"tenant"}, 2, "no subcommand"},
		{"tenant: unknown subcommand", []string{"tenant", "delete"}, 2, `unknown subcommand "delete"`},
		{"tenant create: no id", []string{"tenant", "create", "--name", "A"}, 2, "--id is required"},
		{"tenant create: seats not a number", create("--seats", "many"), 2, "invalid value"},
		{"tenant create: stray argument", create("extra"), 2, `unexpected argument "extra"`},
		{"tenant create: bad e-mail", create("--admin-email", "not-an-address"), 1, "--admin-email: not an e-mail address"},
		{"tenant create: no seat", create("--seats", "0"), 1, "--seats:"},
		{"tenant create: blank name", create("--name", " "), 1, "--name:"},
		{"tenant create: bad id", create("--id", "acme corp"), 1, `--id "acme corp"`},
		{"tenant create: hash tag in id", create("--id", "{acme}"), 1, `--id "{acme}"`},
		{"tenant create: store unreachable", []string{"tenant", "create", "--eventstore", "esdb://127.0.0.1:1?tls=false", "--id", "acme", "--name", "Acme",
			"--seats", "2", "--admin-email", "ann@acme.example", "--admin-name", "Ann"}, 1, "event store at esdb://127.0.0.1:1?tls=false is not reachable"},
		{"tenant create: store and data dir", create("--eventstore", "esdb://127.0.0.1:1?tls=false"), 2, "use --eventstore or --data-dir, not both"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runSplit(t, bin, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if !oneLineError(stderr, tc.msg) {
				t.Fatalf("no one-line error containing %q in stderr:\n%s", tc.msg, stderr)
			}
			if tc.code != 0 && strings.HasPrefix(tc.args[0], "token") && stdout != "" {
				t.Fatalf("a failed token command printed %q", stdout)
			}
		})
	}
}

// oneLineError reports whether stderr has a "portald: …" line containing msg.
func oneLineError(stderr, msg string) bool {
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(l, "portald: ") && strings.Contains(l, msg) {
			return true
		}
	}
	return false
}
