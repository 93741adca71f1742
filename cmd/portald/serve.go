package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/portal-access/backend/internal/app"
	"github.com/portal-access/backend/internal/auth"
	"github.com/portal-access/backend/internal/demo"
)

// loadDemo loads the demo tenant and says how to log in as each of its people.
func loadDemo(ctx context.Context, a *app.App, stdout io.Writer, logger *slog.Logger) error {
	sum, err := demo.Load(ctx, a.Commands, a.Directories)
	if err != nil {
		return fmt.Errorf("load demo data: %w", err)
	}
	if sum.Loaded {
		logger.Info("demo tenant loaded", "tenant", demo.Tenant)
	} else {
		logger.Info("demo tenant already present", "tenant", demo.Tenant)
	}
	subjects := make([]string, 0, len(sum.People))
	for s := range sum.People {
		subjects = append(subjects, s)
	}
	sort.Strings(subjects)
	fmt.Fprintf(stdout, "demo tenant %q: log in as anyone below with  portald token --tenant %s --sub <login>\n", demo.Tenant, demo.Tenant)
	for _, s := range subjects {
		fmt.Fprintf(stdout, "  %-12s %s\n", s, sum.People[s])
	}
	return nil
}

func serve(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	cfg := app.Config{}
	fs.StringVar(&cfg.DataDir, "data-dir", envOr("PORTAL_DATA_DIR", "./data"), "directory of the embedded event store's data (env PORTAL_DATA_DIR)")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", envOr("PORTAL_HTTP_ADDR", "127.0.0.1:8080"), "address of the HTTP API (env PORTAL_HTTP_ADDR)")
	fs.StringVar(&cfg.ESDBListen, "esdb-listen", envOr("PORTAL_ESDB_LISTEN", "127.0.0.1:2113"), "gRPC address of the embedded event store (env PORTAL_ESDB_LISTEN)")
	fs.StringVar(&cfg.EventStoreURL, "eventstore", envOr("PORTAL_EVENTSTORE", ""), "esdb:// connection string of an external EventStoreDB; empty runs the embedded one (env PORTAL_EVENTSTORE)")
	fs.StringVar(&cfg.RedisPrefix, "redis-prefix", envOr("PORTAL_REDIS_PREFIX", "pa"), "prefix of the read-model keys in Redis (env PORTAL_REDIS_PREFIX)")
	fs.StringVar(&cfg.RedisURL, "redis", envOr("PORTAL_REDIS", ""), "redis:// URL of an external Redis for read models; empty runs an in-process one (env PORTAL_REDIS)")
	logLevel := fs.String("log-level", envOr("PORTAL_LOG_LEVEL", "info"), "debug, info, warn or error (env PORTAL_LOG_LEVEL)")
	logFormat := fs.String("log-format", envOr("PORTAL_LOG_FORMAT", "text"), "text or json (env PORTAL_LOG_FORMAT)")
	envErr := errors.Join(
		durationFlag(fs, &cfg.ReadMaxWait, "read-max-wait", "PORTAL_READ_MAX_WAIT", 2*time.Second,
			"how long a read waits for the read models to reach its minimum log position before answering 503 not-yet-consistent"),
		durationFlag(fs, &cfg.ReadyMaxLag, "ready-max-lag", "PORTAL_READY_MAX_LAG", time.Second,
			"/readyz: how long the projections may take to reach the log's head before the service reports not ready"))
	withDemo := fs.Bool("demo", envOr("PORTAL_DEMO", "") == "1", "load the demo tenant \"demo\" (every class, role and rule) unless it exists (env PORTAL_DEMO=1)")
	af := authFlags(fs)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if envErr != nil {
		return &exitError{code: 2, err: envErr}
	}
	logger, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	cfg.Logger = logger
	logger.Debug("runtime", "gc_percent", app.TuneRuntime())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if cfg.Authenticator, err = af.authenticator(ctx, fs, cfg, logger); err != nil {
		return err
	}
	a, err := app.Start(ctx, cfg)
	if err != nil {
		return err
	}
	if *withDemo {
		if err := loadDemo(ctx, a, stdout, logger); err != nil {
			_ = a.Close(context.Background())
			return err
		}
	}
	fmt.Fprintf(stdout, "portald is serving on http://%s\n", a.HTTPAddr())
	var served error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "reason", "signal")
	case served = <-a.Done():
		logger.Error("http server stopped", "error", served)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.Close(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped cleanly")
	if served != nil {
		return served
	}
	return nil
}

// serveAuth are serve's authentication flags.
type serveAuth struct {
	mode, devSecret                                            *string
	issuer, audience, tenantClaim, serviceClients, scopePrefix *string
}

func authFlags(fs *flag.FlagSet) *serveAuth {
	return &serveAuth{
		mode: fs.String("auth", envOr("PORTAL_AUTH", ""), "how bearer tokens are verified: dev (HS256 tokens minted by 'portald token') or oidc (the tenant's OpenID Connect provider); "+
			"default dev with the embedded event store, oidc with --eventstore (env PORTAL_AUTH)"),
		devSecret: fs.String("dev-secret", "", "dev: signing secret (at least 32 characters); default: <data-dir>/"+devKeyFile+", created when missing (env PORTAL_DEV_SECRET)"),
		issuer:    fs.String("oidc-issuer", envOr("PORTAL_OIDC_ISSUER", ""), "oidc: the provider's issuer URL, exactly as in its tokens' iss (env PORTAL_OIDC_ISSUER)"),
		audience:  fs.String("oidc-audience", envOr("PORTAL_OIDC_AUDIENCE", ""), "oidc: this API's audience, required in tokens' aud (env PORTAL_OIDC_AUDIENCE)"),
		tenantClaim: fs.String("oidc-tenant-claim", envOr("PORTAL_OIDC_TENANT_CLAIM", auth.DefaultTenantClaim),
			"oidc: the claim that carries the tenant id (env PORTAL_OIDC_TENANT_CLAIM)"),
		serviceClients: fs.String("oidc-service-clients", envOr("PORTAL_OIDC_SERVICE_CLIENTS", ""),
			"oidc: comma-separated client ids whose tokens (client credentials) are service principals (env PORTAL_OIDC_SERVICE_CLIENTS)"),
		scopePrefix: fs.String("oidc-scope-prefix", envOr("PORTAL_OIDC_SCOPE_PREFIX", ""),
			"oidc: prefix removed from service scopes; scopes without it are ignored (env PORTAL_OIDC_SCOPE_PREFIX)"),
	}
}

// authenticator builds the configured authenticator: development HS256 tokens, or the
// tenant's OpenID Connect provider.
func (a *serveAuth) authenticator(ctx context.Context, fs *flag.FlagSet, cfg app.Config, logger *slog.Logger) (auth.Authenticator, error) {
	mode := strings.ToLower(strings.TrimSpace(*a.mode))
	if mode == "" {
		mode = "dev"
		if cfg.EventStoreURL != "" {
			mode = "oidc"
		}
	}
	switch mode {
	case "dev":
		for _, f := range []string{"oidc-issuer", "oidc-audience", "oidc-tenant-claim", "oidc-service-clients", "oidc-scope-prefix"} {
			if given(fs, f) {
				return nil, usageErr("--%s needs --auth oidc (authentication is dev)", f)
			}
		}
		secret := secretFromEnv(*a.devSecret)
		key, err := devSecret(secret, cfg.DataDir, true)
		if err != nil {
			return nil, err
		}
		dev, err := auth.NewDev(key)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		source := "--dev-secret / PORTAL_DEV_SECRET"
		if secret == "" {
			source = filepath.Join(cfg.DataDir, devKeyFile)
		}
		logger.Warn("DEVELOPMENT AUTHENTICATION IS ENABLED: the API accepts HS256 tokens signed with a local secret, "+
			"minted by 'portald token --tenant T --sub S'; never expose this service to users (use --auth oidc)",
			"auth", "dev", "secret", source, "issuer", auth.DevIssuer, "audience", auth.DevAudience)
		return dev, nil
	case "oidc":
		if given(fs, "dev-secret") {
			return nil, usageErr("--dev-secret needs --auth dev (authentication is oidc)")
		}
		if *a.issuer == "" || *a.audience == "" {
			why := "with --auth oidc"
			if *a.mode == "" {
				why = "with --eventstore (authentication defaults to oidc; --auth dev for development)"
			}
			return nil, usageErr("--oidc-issuer and --oidc-audience are required %s (env PORTAL_OIDC_ISSUER, PORTAL_OIDC_AUDIENCE)", why)
		}
		o, err := auth.NewOIDC(auth.OIDCConfig{Issuer: *a.issuer, Audience: *a.audience, TenantClaim: *a.tenantClaim,
			ServiceClients: splitList(*a.serviceClients), ScopePrefix: *a.scopePrefix, Logger: logger})
		if err != nil {
			return nil, usageErr("%v", err)
		}
		// Reach the provider now, so that a wrong issuer is found at start. A provider that
		// does not answer does not stop the service: tokens are refused until it does.
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var de *auth.DiscoveryError
		if err := o.Discover(dctx); errors.As(err, &de) && de.Permanent {
			return nil, fmt.Errorf("OIDC provider %s: %v", *a.issuer, de.Err)
		}
		logger.Info("authentication: OpenID Connect", "issuer", *a.issuer, "audience", *a.audience,
			"tenant_claim", *a.tenantClaim, "service_clients", *a.serviceClients)
		return o, nil
	}
	return nil, usageErr("bad --auth %q: use dev or oidc", *a.mode)
}

// durationFlag defines a positive duration flag whose default comes from env (else def); a
// malformed or non-positive value, in the environment or on the command line, is an error.
func durationFlag(fs *flag.FlagSet, dst *time.Duration, name, env string, def time.Duration, usage string) error {
	parse := func(v string) (time.Duration, error) {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("%s is a positive duration such as 500ms or 2s, not %q", name, v)
		}
		return d, nil
	}
	*dst = def
	var envErr error
	if v := os.Getenv(env); v != "" {
		*dst, envErr = parse(v)
		if envErr != nil {
			envErr = fmt.Errorf("env %s: %w", env, envErr)
		}
	}
	fs.Func(name, fmt.Sprintf("%s (default %s; env %s)", usage, def, env), func(v string) (err error) {
		*dst, err = parse(v)
		return err
	})
	return envErr
}
