package readapi

import (
	"encoding/base64"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/domain"
)

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Page is one page of a listing. NextCursor, when present, fetches the rest; a page may be
// shorter than the limit (even empty) and still have a NextCursor when the call bounded its
// work.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// listQuery is a listing's paging and filters, as given in the query string.
type listQuery struct {
	Limit        int
	Cursor       string // decoded
	Company      domain.CompanyID
	Site         domain.SiteID
	Status       string
	Type         string
	UpdatedSince time.Time
}

func (q listQuery) wants(company domain.CompanyID) bool {
	return q.Company == "" || q.Company == company
}

var listParams = []string{"limit", "cursor", "company", "site", "status", "type", "updated_since", "min_position"}

// parseList reads the query string strictly: unknown parameters, a bad limit, cursor or time
// are refused, never ignored.
func parseList(c *gin.Context) (listQuery, *domain.Error) {
	q := listQuery{Limit: DefaultLimit}
	if bad := checkParams(c, listParams, "listings take"); bad != nil {
		return q, bad
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return q, invalid("limit", "limit is an integer from 1 to "+strconv.Itoa(MaxLimit))
		}
		q.Limit = n
	}
	if s := c.Query("cursor"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			return q, invalid("cursor", "cursor is the next_cursor of a previous page, unchanged")
		}
		q.Cursor = string(b)
	}
	q.Company, q.Site = domain.CompanyID(c.Query("company")), domain.SiteID(c.Query("site"))
	q.Status, q.Type = c.Query("status"), c.Query("type")
	if s := c.Query("updated_since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, invalid("updated_since", "updated_since is an RFC 3339 time, e.g. 2026-11-01T00:00:00Z")
		}
		q.UpdatedSince = t
	}
	return q, nil
}

// checkParams refuses a query string that does not parse (a bad escape, a semicolon: its pairs
// would be dropped silently) and parameters not in allowed (named by what: "listings take").
func checkParams(c *gin.Context, allowed []string, what string) *domain.Error {
	vals, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		return invalid("query", "the query string is malformed: "+err.Error())
	}
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		if !slices.Contains(allowed, name) {
			field := name
			if field == "" {
				field = "query"
			}
			return invalid(field, "unknown query parameter "+strconv.Quote(name)+"; "+what+" "+strings.Join(allowed, ", "))
		}
	}
	return nil
}

func invalid(field, msg string) *domain.Error {
	return &domain.Error{Kind: domain.KindInvalid, Code: "malformed-request", Field: field, Message: msg}
}

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// pageByID pages a listing whose candidates are ids sorted ascending: the ids after the
// cursor, judged one by one by keep (which returns the item, or false to leave the id out),
// until the page is full. Items are judged in batches so that keep can read many at once.
func pageByID[T any](ids []string, q listQuery, judge func(batch []string) ([]T, []string, error)) (Page[T], error) {
	start := 0
	if q.Cursor != "" {
		start, _ = slices.BinarySearch(ids, q.Cursor)
		if start < len(ids) && ids[start] == q.Cursor {
			start++
		}
	}
	out := Page[T]{Items: make([]T, 0, q.Limit)}
	for start < len(ids) && len(out.Items) < q.Limit {
		end := min(len(ids), start+max(q.Limit-len(out.Items), 16))
		items, kept, err := judge(ids[start:end])
		if err != nil {
			return out, err
		}
		for i, it := range items {
			out.Items = append(out.Items, it)
			if len(out.Items) == q.Limit {
				if kept[i] != ids[len(ids)-1] {
					out.NextCursor = encodeCursor(kept[i])
				}
				return out, nil
			}
		}
		start = end
	}
	return out, nil
}
