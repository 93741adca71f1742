package readapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portal-access/backend/internal/app"
	"github.com/portal-access/backend/internal/problem"
	"github.com/portal-access/backend/internal/testkit"
)

// FuzzReadRequest sends fuzzed query strings, X-Min-Position headers and check bodies to the read
// routes of a running service (embedded event store, real Redis, projections): whatever the
// input, no answer is a 500, and every refusal (4xx) of a routed request is problem+json with
// its status and a non-empty code.
//
// Inputs: route is one of readRoutes (anything else picks one by hash; "$ticket", "$A",
// "$person" in it are the fixture's ids); who is admin, basic, service, none or else the
// bearer token itself.
func FuzzReadRequest(f *testing.F) {
	fx := newReadFuzz(f)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, s := range [][2]string{
		{"GET /v1/me/tickets", ""}, {"GET /v1/me/tickets", "limit=1"}, {"GET /v1/me/tickets", "cursor=" + enc("5:t")},
		{"GET /v1/me/tickets", "cursor=" + enc("NaN:t")}, {"GET /v1/me/tickets", "cursor=" + enc("+Inf:t")},
		{"GET /v1/me/tickets", "cursor=" + enc("-Inf:t")}, {"GET /v1/me/tickets", "cursor=" + enc("1e308:t")},
		{"GET /v1/me/tickets", "status=open&type=incident&updated_since=2020-01-01T00:00:00Z&company=$A"},
		{"GET /v1/me/tickets", "site=%00&company=%FF"}, {"GET /v1/me/companies", "cursor=" + enc("\xff")},
		{"GET /v1/me/people", "limit=200&type=contact"}, {"GET /v1/me/sites", "company=$A"}, {"GET /v1/me/documents", ""},
		{"GET /v1/me/tickets/$ticket/comments", "cursor=" + enc("-1")}, {"GET /v1/me/tickets/$ticket/comments", "cursor=" + enc("99999999999999999999")},
		{"GET /v1/me/tickets/$ticket/documents", "cursor=" + enc("x")}, {"GET /v1/me/tickets/$ticket", ""},
		{"GET /v1/me/people/$person", ""}, {"GET /v1/me/companies/$A", "colour=red"}, {"GET /v1/me", "min_position=1/1"},
		{"GET /v1/viewers/$person/tickets", ""}, {"GET /v1/resources/ticket/$ticket/viewers", "limit=1"},
		{"GET /v1/resources/planet/x/viewers", ""}, {"GET /v1/audit", "actor=user:x&from=2020-01-01T00:00:00Z&limit=1000"},
		{"GET /v1/audit", "actor=robot"}, {"GET /v1/audit", "cursor=1/1&type=TicketOpened"}, {"GET /v1/audit", "limit=5;x"},
	} {
		f.Add(s[0], s[1], []byte(nil), "admin", "")
	}
	for _, b := range []string{`{"resource":{"type":"ticket","id":"$ticket"}}`, `{"checks":[{"viewer":"$person","resource":{"type":"company","id":"$A"}}]}`,
		`{"resource":{"type":"ticket"}}`, `{"checks":[]}`, `{"resource":{"type":"ticket","id":"$ticket"},"action":"write"}`, `nope`} {
		f.Add("POST /v1/check", "", []byte(b), "basic", "")
	}
	f.Add("GET /v1/me/tickets", "", []byte(nil), "basic", "1/1")
	f.Add("GET /v1/me/tickets", "", []byte(nil), "basic", "x")
	f.Add("GET /v1/me/tickets", "", []byte(nil), "service", "")
	f.Add("GET /v1/me/tickets", "", []byte(nil), "none", "")
	f.Add("GET /v1/me/tickets", "", []byte(nil), "garbage", "")

	f.Fuzz(func(t *testing.T, route, rawQuery string, body []byte, who, minPosition string) {
		method, path := fx.pick(route)
		u := &url.URL{Scheme: "http", Host: fx.host, Path: fx.expand(path), RawQuery: fx.expand(queryBytes(rawQuery))}
		req, err := http.NewRequest(method, u.String(), bytes.NewReader([]byte(fx.expand(string(body)))))
		if err != nil {
			return // not a request a client could send: nothing to check
		}
		if len(body) > 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		if tok := fx.token(who); tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if minPosition != "" {
			req.Header.Set("X-Min-Position", minPosition)
		}
		resp, err := fx.client.Do(req)
		if err != nil {
			return // a header value net/http refuses to send: nothing reached the service
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("%s %s -> %d %.200s", method, u.RequestURI(), resp.StatusCode, raw)
		switch st := resp.StatusCode; {
		case st >= 500 && st != http.StatusServiceUnavailable:
			t.Fatalf("%s %s: %d %s", method, u.RequestURI(), st, raw)
		case st == http.StatusNotFound && string(raw) == "404 page not found": // no route: Gin's own answer
		case st >= 400 && st < 500:
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), problem.ContentType) {
				t.Fatalf("%s %s: a %d refusal is %q, not problem+json: %s", method, u.RequestURI(), st, resp.Header.Get("Content-Type"), raw)
			}
			var p problem.Details
			if err := json.Unmarshal(raw, &p); err != nil || p.Code == "" || p.Status != st {
				t.Fatalf("%s %s: incomplete problem for %d (%v): %s", method, u.RequestURI(), st, err, raw)
			}
		}
	})
}

// queryBytes percent-encodes what a client could not put in a request line (controls, spaces,
// non-ASCII), keeping everything else as fuzzed: bad escapes and separators reach the server.
func queryBytes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '#' {
			b.WriteString(url.QueryEscape(string([]byte{c})))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

var readRoutes = []string{
	"GET /v1/me", "GET /v1/me/companies", "GET /v1/me/companies/$A", "GET /v1/me/sites", "GET /v1/me/tickets",
	"GET /v1/me/tickets/$ticket", "GET /v1/me/tickets/$ticket/comments", "GET /v1/me/tickets/$ticket/documents",
	"GET /v1/me/people", "GET /v1/me/people/$person", "GET /v1/me/documents", "GET /v1/viewers/$person/tickets",
	"GET /v1/viewers/$person/people", "GET /v1/resources/ticket/$ticket/viewers", "GET /v1/resources/company/$A/viewers",
	"GET /v1/audit", "POST /v1/check",
}

type readFuzz struct {
	host   string
	client *http.Client
	tokens map[string]string
	ids    map[string]string
}

func newReadFuzz(f *testing.F) *readFuzz {
	f.Helper()
	svc := testkit.StartService(f, func(c *app.Config) { c.ReadMaxWait = 50 * time.Millisecond })
	tn := svc.CreateTenant("acme", 20)
	adm := tn.AdminToken
	company := svc.Must(201, svc.Do("POST", "/v1/companies", adm, map[string]any{"name": "Alpha", "kind": "customer"})).ID("company_id")
	site := svc.Must(201, svc.Do("POST", "/v1/companies/"+company+"/sites", adm, map[string]any{"name": "A1"})).ID("site_id")
	inv := svc.Must(201, svc.Do("POST", "/v1/invitations", adm, map[string]any{
		"name": "Bob", "email": "bob@example.test", "home_company": company, "role": "basic", "sites": []string{site}}))
	basic := svc.Accept(tn.ID, inv.ID("invitation_token"), "sub-bob")
	tk := svc.Must(201, svc.Do("POST", "/v1/tickets", basic, map[string]any{"site": site, "type": "incident", "title": "Leak"}))
	svc.Must(201, svc.Do("POST", "/v1/tickets/"+tk.ID("ticket_id")+"/comments", basic, map[string]any{"body": "wet"}))
	svc.Sync(svc.Must(201, svc.Do("POST", "/v1/tickets/"+tk.ID("ticket_id")+"/comments", adm, map[string]any{"body": "on it"})))
	u, err := url.Parse(svc.URL)
	if err != nil {
		f.Fatal(err)
	}
	return &readFuzz{host: u.Host, client: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		tokens: map[string]string{"admin": adm, "basic": basic, "none": "", "garbage": "x.y.z",
			"service": svc.ServiceToken(tn.ID, "svc", "viewers:read", "audit:read")},
		ids: map[string]string{"$ticket": tk.ID("ticket_id"), "$A": company, "$person": inv.ID("person_id"), "$site": site}}
}

func (fx *readFuzz) pick(route string) (method, path string) {
	r := route
	found := false
	for _, known := range readRoutes {
		if known == route {
			found = true
			break
		}
	}
	if !found {
		h := uint32(2166136261)
		for i := 0; i < len(route); i++ {
			h = (h ^ uint32(route[i])) * 16777619
		}
		r = readRoutes[h%uint32(len(readRoutes))]
	}
	method, path, _ = strings.Cut(r, " ")
	return method, path
}

func (fx *readFuzz) expand(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	for k, v := range fx.ids {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

func (fx *readFuzz) token(who string) string {
	if tok, ok := fx.tokens[who]; ok {
		return tok
	}
	return who
}
