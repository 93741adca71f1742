package readapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/projections/audit"
)

// NDJSON is the media type of the audit export.
const NDJSON = "application/x-ndjson"

// AuditPage is one page of the audit trail in log order. NextCursor (a log position) continues
// it; absent when there is nothing more as of this call.
type AuditPage struct {
	Entries    []audit.Entry `json:"entries"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

var auditParams = []string{"actor", "subject", "company", "type", "from", "to", "cursor", "limit", "min_position"}

// auditTrail answers the audit trail to compliance (audit:read) and tenant admins: a page as
// JSON, or with Accept: application/x-ndjson every matching entry streamed as NDJSON.
func (a *API) auditTrail(c *gin.Context) {
	cl, ok := a.require(c, domain.PermAuditRead)
	if !ok {
		return
	}
	f, bad := parseAuditFilter(c)
	if bad != nil {
		a.fail(c, bad)
		return
	}
	ctx := c.Request.Context()
	if wantsNDJSON(c.GetHeader("Accept")) {
		c.Header("Content-Type", NDJSON)
		c.Status(http.StatusOK)
		f.Limit = 0
		n, err := audit.Export(ctx, a.rdb, cl.keys, cl.tenant, f, c.Writer)
		if err != nil {
			// The status is sent: the stream ends early, and the log says why.
			a.logger.Error("audit export ended early", "entries", n, "error", err)
		}
		return
	}
	p, err := audit.Query(ctx, a.rdb, cl.keys, cl.tenant, f)
	if errors.Is(err, audit.ErrInvalidFilter) {
		err = invalid("filter", err.Error())
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	out := AuditPage{Entries: p.Entries}
	if out.Entries == nil {
		out.Entries = []audit.Entry{}
	}
	if !p.Next.IsZero() {
		out.NextCursor = p.Next.String()
	}
	c.JSON(http.StatusOK, out)
}

func wantsNDJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mt), NDJSON) {
			return true
		}
	}
	return false
}

func parseAuditFilter(c *gin.Context) (audit.Filter, *domain.Error) {
	var f audit.Filter
	if bad := checkParams(c, auditParams, "the audit trail takes"); bad != nil {
		return f, bad
	}
	f.Actor, f.Subject, f.Company, f.Type = c.Query("actor"), c.Query("subject"), c.Query("company"), c.Query("type")
	for _, b := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if s := c.Query(b.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return f, invalid(b.name, b.name+" is an RFC 3339 time, e.g. 2026-11-01T00:00:00Z")
			}
			*b.dst = t
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, invalid("to", "to must be after from")
	}
	if s := c.Query("cursor"); s != "" {
		p, err := ParsePosition(s)
		if err != nil {
			return f, invalid("cursor", "cursor is the next_cursor of a previous page, unchanged")
		}
		f.After = p
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > audit.MaxLimit {
			return f, invalid("limit", "limit is an integer from 1 to "+strconv.Itoa(audit.MaxLimit))
		}
		f.Limit = n
	}
	return f, nil
}
