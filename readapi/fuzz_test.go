package readapi

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/problem"
	"github.com/portal-access/backend/projections/audit"
)

// Fuzz targets of what the read API parses from a request: the log position (min_position,
// X-Min-Position, the audit cursor), a listing's query string, the audit filter, a ticket
// listing's cursor and the check body. Whatever the input nothing panics, every refusal names
// the offending field with a message, what is accepted is within the documented bounds, and
// what the API hands out (positions, cursors, check bodies) parses back to itself.

func init() { gin.SetMode(gin.ReleaseMode) }

// queryContext is a Gin context of GET /?rawQuery (the query string as sent, not re-encoded).
func queryContext(rawQuery string) *gin.Context {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/", RawQuery: rawQuery}, Header: http.Header{}}
	return c
}

// checkRefusal asserts that a refusal is a malformed-request naming a field, with a message.
func checkRefusal(t *testing.T, in string, e *domain.Error) {
	t.Helper()
	if e.Kind != domain.KindInvalid || e.Code != "malformed-request" || e.Field == "" || e.Message == "" {
		t.Fatalf("%q: refusal without kind, code, field or message: %#v", in, e)
	}
	if p := problem.FromError(e); p.Status != http.StatusBadRequest || p.Field != e.Field {
		t.Fatalf("%q: refusal maps to %+v, not a 400 naming %q", in, p, e.Field)
	}
}

// checkParamsAccepted asserts that an accepted query string parses and names known parameters only.
func checkParamsAccepted(t *testing.T, rawQuery string, malformed error, vals url.Values, allowed []string) {
	t.Helper()
	if malformed != nil {
		t.Fatalf("%q: malformed query string accepted (%v)", rawQuery, malformed)
	}
	for name := range vals {
		if !slices.Contains(allowed, name) {
			t.Fatalf("%q: unknown parameter %q accepted", rawQuery, name)
		}
	}
}

func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"1234/1234", "0", "0/0", "18446744073709551615/18446744073709551615", "18446744073709551616",
		" 7/7 ", "7/", "/7", "7//7", "-1", "+1", "1.5", "0x10", "1_000", "7/8/9", "", " ", "１２", "7 /7", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePosition(s)
		if err != nil {
			if p != (eventstore.Position{}) || err.Error() == "" {
				t.Fatalf("%q: error %v with position %v", s, err, p)
			}
			return
		}
		again, err := ParsePosition(p.String())
		if err != nil || again != p {
			t.Fatalf("%q: %v prints as %q, which parses to %v, %v", s, p, p.String(), again, err)
		}
		// What a command answers ("commit/prepare") and a bare commit both parse.
		if bare, err := ParsePosition(strconv.FormatUint(p.Commit, 10)); err != nil || bare.Commit != p.Commit || bare.Prepare != p.Commit {
			t.Fatalf("bare commit %d parses to %v, %v", p.Commit, bare, err)
		}
	})
}

func FuzzParseList(f *testing.F) {
	for _, s := range []string{"", "limit=1", "limit=200", "limit=201", "limit=0", "limit=-1", "limit=1e2", "limit=9223372036854775808",
		"cursor=" + encodeCursor("c-1"), "cursor=%%%", "cursor=YQ==", "cursor=", "cursor=YR", "cursor=" + encodeCursor("\x00\xff"),
		"company=c&site=s&status=open&type=incident", "updated_since=2026-11-01T00:00:00Z", "updated_since=2026-11-01T00:00:00.123456789%2B02:00",
		"updated_since=yesterday", "updated_since=2026-13-01T00:00:00Z", "min_position=5/5", "colour=red", "LIMIT=5", "limit=5&limit=x",
		"a=1;b=2", "%zz=1", "&&&", "=", "limit", "company=%00"} {
		f.Add(s, "c-1")
	}
	f.Fuzz(func(t *testing.T, rawQuery, cursor string) {
		q, bad := parseList(queryContext(rawQuery))
		vals, malformed := url.ParseQuery(rawQuery)
		if bad != nil {
			checkRefusal(t, rawQuery, bad)
			return
		}
		checkParamsAccepted(t, rawQuery, malformed, vals, listParams)
		if q.Limit < 1 || q.Limit > MaxLimit {
			t.Fatalf("%q: limit %d accepted", rawQuery, q.Limit)
		}
		if raw := vals.Get("cursor"); raw != "" && q.Cursor == "" {
			t.Fatalf("%q: cursor %q accepted as no cursor", rawQuery, raw)
		}
		// A cursor the API hands out is read back unchanged.
		if cursor != "" {
			back, bad := parseList(queryContext("cursor=" + url.QueryEscape(encodeCursor(cursor))))
			if bad != nil || back.Cursor != cursor {
				t.Fatalf("cursor %q: encoded %q parses back to %q, %v", cursor, encodeCursor(cursor), back.Cursor, bad)
			}
		}
	})
}

func FuzzParseAuditFilter(f *testing.F) {
	for _, s := range []string{"", "actor=user:p-1&subject=s&company=c&type=UserInvited", "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z",
		"from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from=2026-01-01",
		"to=2026-01-01T00:00:00%2B14:00&from=2026-01-01T00:00:00-12:00", "cursor=12/12", "cursor=12", "cursor=x", "cursor=-1/0",
		"limit=1000", "limit=1001", "limit=0", "limit=ten", "min_position=3", "colour=red", "actor=%ff%fe", "from=0000-01-01T00:00:00Z",
		"to=9999-12-31T23:59:59.999999999Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		fl, bad := parseAuditFilter(queryContext(rawQuery))
		if bad != nil {
			checkRefusal(t, rawQuery, bad)
			return
		}
		if fl.Limit < 0 || fl.Limit > audit.MaxLimit {
			t.Fatalf("%q: limit %d accepted", rawQuery, fl.Limit)
		}
		if !fl.From.IsZero() && !fl.To.IsZero() && !fl.From.Before(fl.To) {
			t.Fatalf("%q: empty interval [%v, %v) accepted", rawQuery, fl.From, fl.To)
		}
		vals, malformed := url.ParseQuery(rawQuery)
		checkParamsAccepted(t, rawQuery, malformed, vals, auditParams)
		// The next_cursor the trail hands out (a position) continues it.
		if !fl.After.IsZero() {
			again, bad := parseAuditFilter(queryContext("cursor=" + url.QueryEscape(fl.After.String())))
			if bad != nil || again.After != fl.After {
				t.Fatalf("cursor %v does not read back: %v, %v", fl.After, again.After, bad)
			}
		}
	})
}

func FuzzParseTicketCursor(f *testing.F) {
	for _, s := range []string{"", "42:t-1", "42:", ":t-1", "42", "4.5:t", "-1:t", "1e308:t", "1e309:t", "NaN:t", "Inf:t", "+Inf:t",
		"-Inf:t", "0x1p-2:t", "42:t:u", " 42:t", "18446744073709551615:t", "9007199254740993:t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cur, ok := parseTicketCursor(s)
		if !ok {
			if !reflect.DeepEqual(cur, ticketCursor{}) {
				t.Fatalf("%q refused with cursor %+v", s, cur)
			}
			return
		}
		if s == "" {
			if !math.IsInf(cur.score, 1) || cur.id != "" {
				t.Fatalf("no cursor is %+v, not the start", cur)
			}
			return
		}
		// A ticket listing's cursor is a log position (finite, not negative) and a ticket id.
		if math.IsNaN(cur.score) || math.IsInf(cur.score, 0) || cur.score < 0 || cur.id == "" {
			t.Fatalf("%q: cursor %+v accepted", s, cur)
		}
		again, ok := parseTicketCursor(cur.String())
		if !ok || again != cur {
			t.Fatalf("%q: %+v prints as %q, which parses to %+v, %v", s, cur, cur.String(), again, ok)
		}
		// As a listing hands it out: encoded, and read back by parseList.
		q, bad := parseList(queryContext("cursor=" + encodeCursor(cur.String())))
		if bad != nil || q.Cursor != cur.String() {
			t.Fatalf("%q: encoded cursor does not read back: %q, %v", s, q.Cursor, bad)
		}
	})
}

func FuzzDecodeCheck(f *testing.F) {
	for _, s := range []string{
		`{"resource":{"type":"ticket","id":"t-1"}}`,
		`{"viewer":"p-1","action":"read","resource":{"type":"person","id":"p-2"}}`,
		`{"checks":[{"resource":{"type":"company","id":"c"}},{"viewer":"p","resource":{"type":"site","id":"s"}}]}`,
		`{"checks":[]}`, `{"checks":null}`, `{"checks":[{}],"viewer":"p"}`, `{"checks":[{}],"resource":{"type":"ticket","id":"t"}}`,
		`{"checks":[` + strings.Repeat(`{},`, MaxChecks) + `{}]}`, `{"resource":{"type":"ticket","id":"t","extra":1}}`, `{"colour":"red"}`,
		`{"resource":{"type":"ticket","id":"t"}}{}`, `{"resource":{"type":"ticket","id":"t"}} `, `{"Resource":{"Type":"ticket","ID":"t"}}`,
		`null`, `[]`, `""`, ``, `{`, `{"viewer":1}`, `{"checks":{}}`, "{\"viewer\":\"\xff\"}", `{"viewer":"\ud800"}`,
		`{"resource":{"type":"ticket","id":"t"},"resource":{"type":"site","id":"s"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		body, bad := decodeBodyOf(raw)
		if bad != nil {
			if bad.Status != http.StatusBadRequest || bad.Code != "malformed-request" || bad.Field == "" || bad.Detail == "" {
				t.Fatalf("%q: refusal without status, code, field or detail: %+v", raw, bad)
			}
			return
		}
		if body.Checks != nil {
			if len(body.Checks) == 0 || len(body.Checks) > MaxChecks {
				t.Fatalf("%q: a batch of %d accepted", raw, len(body.Checks))
			}
			if body.CheckRequest != (CheckRequest{}) {
				t.Fatalf("%q: a batch and a single check accepted together", raw)
			}
		}
		// What is accepted, re-encoded, is accepted again as the same check.
		enc, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("%q: accepted body does not re-encode: %v", raw, err)
		}
		again, bad := decodeBodyOf(enc)
		if bad != nil || !reflect.DeepEqual(again, body) {
			t.Fatalf("%q: re-encoded as %s, decodes to %+v, %+v (was %+v)", raw, enc, again, bad, body)
		}
	})
}

func decodeBodyOf(raw []byte) (CheckBody, *problem.Details) {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodPost, "/v1/check", bytes.NewReader(raw))
	c.Request.Header.Set("Content-Type", "application/json")
	return decodeCheck(c)
}
