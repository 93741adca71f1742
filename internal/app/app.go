// Package app assembles the service: event store (embedded or external), read-model store
// (in-process or external Redis) and the HTTP API, with one Config and a clean shutdown.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/commands"
	"github.com/portal-access/backend/commands/httpapi"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/auth"
	"github.com/portal-access/backend/internal/esdbserver"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/httpserver"
	"github.com/portal-access/backend/internal/metrics"
	"github.com/portal-access/backend/internal/openapi"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/audit"
	"github.com/portal-access/backend/projections/directory"
	"github.com/portal-access/backend/projections/visibility"
	"github.com/portal-access/backend/readapi"
)

// Config is everything the service needs to start. Empty EventStoreURL and RedisURL select the
// embedded defaults.
type Config struct {
	DataDir       string
	HTTPAddr      string
	ESDBListen    string
	EventStoreURL string
	RedisURL      string
	// RedisPrefix namespaces the read-model keys (default "pa"), so that services share a Redis.
	RedisPrefix string
	Logger      *slog.Logger
	// Authenticator verifies bearer tokens (development HS256 or the tenant's OIDC provider).
	Authenticator auth.Authenticator
	// ReadMaxWait bounds how long a read waits for its minimum log position (default 2 s).
	ReadMaxWait time.Duration
	// ReadyMaxLag is how long /readyz gives the projections to reach the log's head before it
	// reports not ready (default 1 s).
	ReadyMaxLag time.Duration
}

func (c Config) prefix() string {
	if c.RedisPrefix == "" {
		return projections.DefaultPrefix
	}
	return c.RedisPrefix
}

// App is a running service.
type App struct {
	cfg      Config
	logger   *slog.Logger
	embedded *esdbserver.Server
	miniRed  *miniredis.Miniredis
	Store    *eventstore.Client
	Redis    *redis.Client
	// Directories and Commands are the command side, for operator tools running in-process.
	Directories *commands.Directories
	Commands    *commands.Handlers
	// Projections keep the read models in Redis up to date.
	Projections *projections.Service
	http        *http.Server
	engine      *gin.Engine
	httpLis     net.Listener
	served      chan error
}

// Start brings the service up, or fails with a one-line reason and nothing left running.
func Start(ctx context.Context, cfg Config) (a *App, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a = &App{cfg: cfg, logger: cfg.Logger, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			a.Close(context.Background())
			a = nil
		}
	}()

	esURL := cfg.EventStoreURL
	if esURL == "" {
		a.embedded, err = esdbserver.Start(esdbserver.Config{DataDir: cfg.DataDir, Listen: cfg.ESDBListen, Logger: cfg.Logger})
		if err != nil {
			return a, err
		}
		esURL = a.embedded.ConnectionString()
	}
	if a.Store, err = eventstore.Connect(esURL, cfg.Logger); err != nil {
		return a, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	head, err := a.Store.LastPosition(pctx)
	if err != nil {
		return a, fmt.Errorf("event store at %s is not reachable: %w", redact(esURL), err)
	}

	redisURL := cfg.RedisURL
	if redisURL == "" {
		a.miniRed = miniredis.NewMiniRedis()
		if err = a.miniRed.StartAddr("127.0.0.1:0"); err != nil {
			return a, fmt.Errorf("start in-process read-model store: %w", err)
		}
		redisURL = "redis://" + a.miniRed.Addr()
		cfg.Logger.Info("in-process read-model store (Redis-compatible) started; read models are rebuilt from the log at start", "addr", a.miniRed.Addr())
	}
	opts, err := ParseRedisURL(redisURL)
	if err != nil {
		return a, fmt.Errorf("bad redis URL: %w", err)
	}
	redis.SetLogger(redisLog{logger: cfg.Logger})
	a.Redis = redis.NewClient(opts)
	if err = a.Redis.Ping(pctx).Err(); err != nil {
		return a, fmt.Errorf("redis at %s is not reachable: %w", opts.Addr, err)
	}

	engine := httpserver.New(cfg.Logger,
		httpserver.Check{Name: "eventstore", Probe: func(ctx context.Context) error {
			_, err := a.Store.LastPosition(ctx)
			return err
		}},
		httpserver.Check{Name: "redis", Probe: func(ctx context.Context) error { return a.Redis.Ping(ctx).Err() }},
		httpserver.Check{Name: "projections", Probe: func(context.Context) error {
			if a.Projections == nil {
				return errors.New("not started")
			}
			for _, r := range a.Projections.Runners() {
				if !r.Healthy() {
					return fmt.Errorf("%s parked an event in the dead-letter stream: %s", r.Name(), r.LastError())
				}
			}
			return nil
		}},
	)
	m := metrics.New(metrics.Source{
		Projectors: func() []metrics.Projector {
			if a.Projections == nil {
				return nil
			}
			var out []metrics.Projector
			for _, r := range a.Projections.Runners() {
				out = append(out, r)
			}
			return out
		},
		Head: a.Store.LastPosition,
		DeadLetters: func(ctx context.Context) (int64, error) {
			return a.Redis.XLen(ctx, projections.DeadLetterKey(cfg.prefix())).Result()
		},
	})
	engine.Use(m.Middleware())
	engine.GET("/metrics", m.Handler())
	engine.GET("/readyz", httpserver.Health(a.readiness(cfg)))
	reg, err := eventschema.Portal()
	if err != nil {
		return a, err
	}
	a.Directories = commands.NewDirectories(a.Store, reg)
	a.Commands = commands.NewHandlers(a.Directories, commands.NewTickets(a.Store, reg), cfg.Logger)
	a.Projections, err = projections.Start(ctx, a.Redis, a.Store, reg, ReadModels(a.Store, reg), cfg.prefix(), cfg.Logger)
	if err != nil {
		return a, fmt.Errorf("start projections: %w", err)
	}
	if cfg.Authenticator != nil {
		cmdAPI := httpapi.New(a.Commands, a.Directories, cfg.Logger)
		readAPI := readapi.New(a.Redis, a.Projections, readapi.Config{MaxWait: cfg.ReadMaxWait}, cfg.Logger)
		authn := auth.Cached(cfg.Authenticator, 10_000)
		cmdAPI.Register(engine, authn)
		readAPI.Register(engine, authn)
		doc, err := OpenAPI(cmdAPI, readAPI)
		if err != nil {
			return a, fmt.Errorf("openapi: %w", err)
		}
		engine.GET("/openapi.json", openapi.Handler(doc))
	}

	a.httpLis, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return a, fmt.Errorf("http: listen on %s: %w", cfg.HTTPAddr, err)
	}
	a.engine = engine
	a.http = &http.Server{Handler: engine, ReadHeaderTimeout: 10 * time.Second}
	go func() { a.served <- a.http.Serve(a.httpLis) }()
	cfg.Logger.Info("portald started", "http", a.httpLis.Addr().String(), "eventstore", redact(esURL),
		"redis", opts.Addr, "log_head", head.String())
	return a, nil
}

// redisLog routes go-redis's own messages (failed dials while Redis is down) to the service's
// structured log instead of the standard error.
type redisLog struct{ logger *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.logger.Warn("redis client", "message", fmt.Sprintf(format, v...))
}

// readiness: the event store and Redis answer, and every projection is healthy and reaches the
// log's head (as read now) within ReadyMaxLag.
func (a *App) readiness(cfg Config) []httpserver.Check {
	lag := cfg.ReadyMaxLag
	if lag <= 0 {
		lag = time.Second
	}
	return []httpserver.Check{
		{Name: "eventstore", Probe: func(ctx context.Context) error { _, err := a.Store.LastPosition(ctx); return err }},
		{Name: "redis", Probe: func(ctx context.Context) error { return a.Redis.Ping(ctx).Err() }},
		{Name: "projections", Probe: func(ctx context.Context) error {
			if a.Projections == nil {
				return errors.New("not started")
			}
			head, err := a.Store.LastPosition(ctx)
			if err != nil {
				return err
			}
			if err := a.Projections.Serving(); err != nil {
				return err
			}
			wctx, cancel := context.WithTimeout(ctx, lag)
			defer cancel()
			for _, r := range a.Projections.Runners() {
				if !r.Healthy() {
					return fmt.Errorf("%s parked an event in the dead-letter stream: %s", r.Name(), r.LastError())
				}
				if err := r.WaitFor(wctx, head); err != nil {
					return fmt.Errorf("%s is at %s, behind the log's head %s by more than %s", r.Name(), r.Position(), head, lag)
				}
			}
			return nil
		}},
	}
}

// HTTPAddr is the address the API listens on.
func (a *App) HTTPAddr() string { return a.httpLis.Addr().String() }

// Done delivers the HTTP server's failure, if it stops on its own.
func (a *App) Done() <-chan error { return a.served }

// Close shuts down in dependency order: stop taking requests, then release the stores. The
// embedded event store finishes the appends it already accepted before it closes.
func (a *App) Close(ctx context.Context) error {
	var errs []error
	if a.http != nil {
		if err := a.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	}
	if a.Projections != nil {
		_ = a.Projections.Close()
	}
	if a.Redis != nil {
		_ = a.Redis.Close()
	}
	if a.miniRed != nil {
		a.miniRed.Close()
	}
	if a.Store != nil {
		_ = a.Store.Close()
	}
	if a.embedded != nil {
		if err := a.embedded.Close(); err != nil {
			errs = append(errs, fmt.Errorf("embedded event store: %w", err))
		}
	}
	return errors.Join(errs...)
}

// OpenAPI is the service's OpenAPI 3.1 document: the command and read APIs and itself.
func OpenAPI(cmdAPI *httpapi.API, readAPI *readapi.API) ([]byte, error) {
	return openapi.Build(openapi.Info{Title: "portal access backend", Version: "1.0.0"},
		cmdAPI.Operations(), readAPI.Operations(), opsOperations())
}

// opsOperations declares the operational endpoints (no token).
func opsOperations() []openapi.Operation {
	report := map[string]any{}
	return []openapi.Operation{
		openapi.Self(),
		{Method: http.MethodGet, Path: "/healthz", ID: "Health", Tags: []string{"operations"}, Public: true,
			Summary:   "liveness: the event store, Redis and the projections answer (503 names what does not)",
			Responses: map[int]any{http.StatusOK: report, http.StatusServiceUnavailable: report}},
		{Method: http.MethodGet, Path: "/readyz", ID: "Ready", Tags: []string{"operations"}, Public: true,
			Summary:   "readiness: the event store and Redis answer and the projections reach the log's head within the configured lag",
			Responses: map[int]any{http.StatusOK: report, http.StatusServiceUnavailable: report}},
		{Method: http.MethodGet, Path: "/metrics", ID: "Metrics", Tags: []string{"operations"}, Public: true,
			Summary:   "Prometheus metrics (text exposition format): request latency per route, projection checkpoints, lag, health and dead letters",
			Responses: map[int]any{http.StatusOK: nil}},
	}
}

// Routes lists the routes the HTTP engine serves (for the OpenAPI conformance test).
func (a *App) Routes() gin.RoutesInfo { return a.engine.Routes() }

// ReadModels lists the projections the service maintains.
func ReadModels(store projections.Source, reg *eventschema.Registry) projections.Factory {
	return func() []projections.Projection {
		return []projections.Projection{visibility.New(store, reg), directory.New(), audit.Projection{Registry: reg}}
	}
}

// redact hides credentials in a connection string before it is logged.
func redact(u string) string {
	for i := 0; i+3 < len(u); i++ {
		if u[i:i+3] == "://" {
			rest := u[i+3:]
			for j := 0; j < len(rest) && rest[j] != '/' && rest[j] != '?'; j++ {
				if rest[j] == '@' {
					return u[:i+3] + "***@" + rest[j+1:]
				}
			}
			break
		}
	}
	return u
}
