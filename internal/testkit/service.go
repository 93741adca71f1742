package testkit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/internal/app"
	"github.com/portal-access/backend/internal/auth"
	"github.com/portal-access/backend/internal/eventstore"
)

// Service is the whole service in-process, as `portald serve` assembles it: the embedded event
// store (a fresh data directory), the real test Redis under a prefix of its own, the
// projections, and the command and read APIs with development authentication.
type Service struct {
	*API
	App    *app.App
	Redis  *redis.Client
	Prefix string
}

// ServiceOption adjusts the configuration.
type ServiceOption func(*app.Config)

// StartService starts the service; it is closed when the test ends.
func StartService(t testing.TB, opts ...ServiceOption) *Service {
	t.Helper()
	rdb, prefix := Redis(t)
	dev, err := auth.NewDev(DevSecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", ESDBListen: "127.0.0.1:0",
		RedisURL: "redis://" + RedisAddr(), RedisPrefix: prefix, Logger: Logger(), Authenticator: dev}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start the service: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Close(ctx)
	})
	return &Service{API: &API{t: t, URL: "http://" + a.HTTPAddr(), Dev: dev, Store: a.Store, Dirs: a.Directories, Handlers: a.Commands},
		App: a, Redis: rdb, Prefix: prefix}
}

// Sync waits until the read models reflect the position a command answered (its
// X-Log-Position header).
func (s *Service) Sync(r Response) {
	s.t.Helper()
	pos := r.Header.Get("X-Log-Position")
	if pos == "" {
		s.t.Fatalf("no X-Log-Position in %s", r)
	}
	var p eventstore.Position
	if _, err := fmtSscan(pos, &p.Commit, &p.Prepare); err != nil {
		s.t.Fatalf("bad position %q: %v", pos, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.App.Projections.WaitFor(ctx, p); err != nil {
		s.t.Fatalf("projections did not reach %s: %v", pos, err)
	}
}

// Read sends a GET (or a POST with body) at least as fresh as the command answer after.
func (s *Service) Read(method, path, token string, body any, after Response) Response {
	s.t.Helper()
	return s.DoWith(method, path, token, body, map[string]string{"X-Min-Position": after.Header.Get("X-Log-Position")})
}

func fmtSscan(s string, commit, prepare *uint64) (int, error) {
	return fmt.Sscanf(s, "%d/%d", commit, prepare)
}
