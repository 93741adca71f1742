package readapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/problem"
)

// MinPositionHeader carries the minimum log position a read must reflect: the position an
// accepted command answered (its X-Log-Position header, or its body's position). The query
// parameter min_position does the same.
const MinPositionHeader = "X-Min-Position"

// ParsePosition reads "commit/prepare" (as commands answer it) or a bare commit.
func ParsePosition(s string) (eventstore.Position, error) {
	c, p, both := strings.Cut(strings.TrimSpace(s), "/")
	commit, err := strconv.ParseUint(c, 10, 64)
	if err != nil {
		return eventstore.Position{}, errors.New("a log position is commit/prepare, two unsigned integers, e.g. 1234/1234")
	}
	prepare := commit
	if both {
		if prepare, err = strconv.ParseUint(p, 10, 64); err != nil {
			return eventstore.Position{}, errors.New("a log position is commit/prepare, two unsigned integers, e.g. 1234/1234")
		}
	}
	return eventstore.Position{Commit: commit, Prepare: prepare}, nil
}

// consistent makes a read wait until every projection has applied the minimum position the
// request names, at most MaxWait; past that it answers 503 not-yet-consistent with a
// Retry-After, never a stale answer. After a revocation answered P, a read at P therefore never
// shows what was revoked.
func (a *API) consistent() gin.HandlerFunc {
	return func(c *gin.Context) {
		if m, ok := a.models.(epocher); ok {
			c.Set(epochKey, m.Epoch())
		}
		if err := a.models.Serving(); err != nil {
			c.Header("Retry-After", "1")
			problem.Write(c, problem.New(http.StatusServiceUnavailable, "read-models-rebuilding",
				"the read models are being rebuilt from the log and would answer wrongly; retry shortly"))
			return
		}
		raw := c.GetHeader(MinPositionHeader)
		if q, ok := c.GetQuery("min_position"); ok {
			if q == "" {
				problem.Write(c, problem.Invalid("min_position", "min_position is empty; give a log position (commit/prepare) or leave it out"))
				return
			}
			raw = q
		}
		if raw == "" {
			c.Next()
			return
		}
		pos, err := ParsePosition(raw)
		if err != nil {
			problem.Write(c, problem.Invalid("min_position", err.Error()))
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), a.cfg.MaxWait)
		err = a.models.WaitFor(ctx, pos)
		cancel()
		if err != nil {
			if c.Request.Context().Err() != nil {
				c.Abort()
				return
			}
			c.Header("Retry-After", strconv.Itoa(max(1, int(a.cfg.MaxWait.Seconds()))))
			p := problem.New(http.StatusServiceUnavailable, "not-yet-consistent",
				"the read models have not yet reached log position "+pos.String()+"; retry after the time given")
			problem.Write(c, p)
			return
		}
		c.Next()
	}
}
