// Package readapi is the read side's HTTP API (Gin): what a viewer may see, listed and checked
// from the visibility and directory read models, each answer with the reason that grants it;
// who can see a resource; the audit trail; read-your-writes against a log position.
//
// Every route is authenticated and scoped to the token's tenant. A viewer is an active user
// (it has a visibility table); everything it cannot see answers 404, exactly as what does not
// exist. Reads on behalf of another viewer, reverse lookups and the audit trail need a
// tenant-wide right (viewers:read, audit:read or tenant:admin) held by the calling service
// client or by the calling user's group.
package readapi

import (
	"context"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/auth"
	"github.com/portal-access/backend/internal/boundedmap"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/problem"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/visibility"
)

// Models is the live read-model generation and how far it is.
type Models interface {
	// Keys is the layout of the generation being served (it changes when a rebuild switches).
	Keys() projections.Keys
	// WaitFor blocks until every projection has applied p.
	WaitFor(ctx context.Context, p eventstore.Position) error
	// Serving is nil while the read models may be read, an error while they are being rebuilt
	// from the log (at start, after a flush): then they would answer wrongly.
	Serving() error
}

// Config tunes the API.
type Config struct {
	// MaxWait bounds how long a read waits for the projections to pass its minimum position
	// before answering 503 with Retry-After (default 2 s).
	MaxWait time.Duration
}

// API serves the read routes.
type API struct {
	rdb    redis.UniversalClient
	models Models
	cfg    Config
	logger *slog.Logger
	// tables keeps viewers' decoded ticket tables while their digest in Redis is unchanged.
	tables *visibility.TableCache
	// bindings remembers which person each login subject resolved to (re-checked on every use).
	bindings *boundedmap.Map[string, domain.PersonID]
	// heads remembers, for each ticket index, the tickets its first page started with last time:
	// their cards are read with the page's first reads (a guess, checked against the index).
	heads *boundedmap.Map[string, []domain.TicketID]
}

// tableCacheSize bounds the viewers whose decoded ticket tables the API keeps (a table of 100
// company grounds is a few kB).
const tableCacheSize = 4096

// bindingCacheSize bounds the login subjects whose person the API remembers.
const bindingCacheSize = 65536

// headCacheSize bounds the ticket indexes (a tenant's, a company's, a site's) whose first page's
// tickets the API remembers.
const headCacheSize = 16384

// New returns the read API over the read models in rdb.
func New(rdb redis.UniversalClient, models Models, cfg Config, logger *slog.Logger) *API {
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 2 * time.Second
	}
	return &API{rdb: rdb, models: models, cfg: cfg, logger: logger, tables: visibility.NewTableCache(tableCacheSize),
		bindings: boundedmap.New[string, domain.PersonID](bindingCacheSize), heads: boundedmap.New[string, []domain.TicketID](headCacheSize)}
}

// Register mounts the read routes under /v1, authenticated, each waiting for the minimum log
// position the request names.
func (a *API) Register(r gin.IRouter, authn auth.Authenticator) {
	v1 := r.Group("/v1", auth.Middleware(authn, func(c *gin.Context, err error) {
		problem.Write(c, problem.Unauthenticated())
	}), a.consistent())
	for _, rt := range a.routes() {
		v1.Handle(rt.op.Method, rt.op.Path[len("/v1"):], rt.handle)
	}
}

// route is one read route: its handler and its description in the OpenAPI document.
type route struct {
	op     operation
	handle gin.HandlerFunc
}
