package readapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"testing"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/internal/testkit/world"
	"github.com/portal-access/backend/readapi"
)

// TestListingsFollowEveryChangeWithWarmCaches grows random worlds step by step on one running
// service and, after each growth, lists every viewer's tickets as the user itself
// (/v1/me/tickets, with every login subject the world has bound so far) and on its behalf
// (/v1/viewers/{id}/tickets), comparing each with the reference rules. The read API keeps
// viewers' decoded ticket tables and the person each subject resolved to between requests; the
// growth on the way revokes, suspends, demotes, moves between groups and removes, so a cache
// that served a stale table or binding would list what a change took away.
func TestListingsFollowEveryChangeWithWarmCaches(t *testing.T) {
	for _, seed := range []int64{3, 11} {
		svc := testkit.StartService(t)
		ctx := context.Background()
		subjects := map[string]bool{}
		var prev *world.World
		lists, checks := 0, 0
		for _, size := range []int{40, 80, 120, 160} {
			w := world.Generate(seed*7919, size)
			from := 0
			if prev != nil {
				from = len(prev.Steps)
				if len(w.Steps) < from || !reflect.DeepEqual(prev.Steps, w.Steps[:from]) {
					t.Fatalf("seed %d: the world of %d commands does not continue the one of %d", seed, size, prev.Size)
				}
			}
			prev = w
			pos, err := w.AppendFrom(ctx, svc.Store, from)
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.App.Projections.WaitFor(ctx, pos); err != nil {
				t.Fatal(err)
			}
			d := w.Directory
			for _, v := range w.People {
				if s := d.People[v].Subject; s != "" {
					subjects[s] = true
				}
			}
			wantOf := func(v domain.PersonID) []item {
				var want []item
				for i := len(w.TicketIDs) - 1; i >= 0; i-- {
					id := w.TicketIDs[i]
					if rs := d.TicketReasons(domain.User(v), w.Tickets[id].View()); len(rs) > 0 {
						want = append(want, item{ID: string(id), Reasons: json.RawMessage(reasonsJSON(rs))})
					}
				}
				return want
			}
			tok := svc.ServiceToken(w.Tenant, "warm-caches", string(domain.PermViewersRead))
			for _, v := range w.People {
				// Single ticket checks on the viewer's behalf first (a table cached before the
				// growth must not answer them), then the listing.
				for _, id := range w.TicketIDs {
					checks++
					checkTicket(t, svc, w, tok, v, id, d.ScopeOf(v).HasTable, d.TicketReasons(domain.User(v), w.Tickets[id].View()))
				}
				if d.ScopeOf(v).HasTable {
					compareItems(t, w, v, "tickets (on behalf)", listAll(t, svc, "/v1/viewers/"+string(v)+"/tickets", tok), wantOf(v))
					lists++
				}
			}
			// Twice each: the first listing of a subject may resolve it the long way, the second
			// uses what the first remembered.
			for _, sub := range slices.Sorted(func(yield func(string) bool) {
				for s := range subjects {
					if !yield(s) {
						return
					}
				}
			}) {
				p, found := d.PersonBySubject(sub)
				bound := found && p.Subject == sub
				userTok := svc.Token(w.Tenant, sub)
				for range 2 {
					if bound && d.ScopeOf(p.ID).HasTable {
						for _, id := range w.TicketIDs[max(0, len(w.TicketIDs)-10):] {
							checks++
							checkTicket(t, svc, w, userTok, "", id, true, d.TicketReasons(domain.User(p.ID), w.Tickets[id].View()))
						}
						compareItems(t, w, p.ID, "tickets (as "+sub+")", listAll(t, svc, "/v1/me/tickets", userTok), wantOf(p.ID))
						lists++
						continue
					}
					r := svc.Do("GET", "/v1/me/tickets", userTok, nil)
					if r.Status != http.StatusForbidden {
						t.Fatalf("seed %d, %d commands: subject %s (bound %v) lists its tickets: %s", w.Seed, size, sub, bound, r)
					}
					if len(w.TicketIDs) > 0 {
						r = svc.Do("POST", "/v1/check", userTok, map[string]any{"resource": map[string]any{"type": "ticket", "id": w.TicketIDs[0]}})
						if r.Status != http.StatusForbidden {
							t.Fatalf("seed %d, %d commands: subject %s (bound %v) checks a ticket: %s", w.Seed, size, sub, bound, r)
						}
					}
				}
			}
		}
		t.Logf("seed %d: %d listings and %d checks equal to the reference as the world grew", seed, lists, checks)
	}
}

// checkTicket asks POST /v1/check whether viewer ("": the caller itself) may read ticket id and
// compares the answer with the reference: allowed exactly when want holds reasons, with them;
// refused with an explanation when the viewer has no table.
func checkTicket(t *testing.T, svc *testkit.Service, w *world.World, tok string, viewer domain.PersonID, id domain.TicketID, hasTable bool, want []domain.TicketReason) {
	t.Helper()
	body := map[string]any{"resource": map[string]any{"type": "ticket", "id": id}}
	if viewer != "" {
		body["viewer"] = viewer
	}
	r := svc.Do("POST", "/v1/check", tok, body)
	if r.Status != http.StatusOK {
		t.Fatalf("seed %d: check %s for %q: %s", w.Seed, id, viewer, r)
	}
	var got struct {
		Allowed     bool            `json:"allowed"`
		Reasons     json.RawMessage `json:"reasons"`
		Explanation string          `json:"explanation"`
	}
	if err := json.Unmarshal(r.Raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Allowed != (len(want) > 0) || reasonsJSON(got.Reasons) != reasonsJSON(want) || (!got.Allowed && got.Explanation == "") || (!hasTable && got.Allowed) {
		t.Fatalf("seed %d: check %s for %q: %s, reference %v (table %v)", w.Seed, id, viewer, r.Raw, want, hasTable)
	}
}

// TestARememberedSubjectIsRefusedOnceItsPersonRebinds: a user lists its tickets (the API now
// remembers its subject's person), is demoted to a contact, promoted again and accepts the new
// invitation with another login subject. The person is an active viewer again, but the old
// subject is bound to nobody: it is refused at once, and the new one lists the person's tickets.
func TestARememberedSubjectIsRefusedOnceItsPersonRebinds(t *testing.T) {
	p := newPortal(t)
	if got := listed(t, p.get("/v1/me/tickets", p.tok["aBasic"])); len(got) == 0 {
		t.Fatal("aBasic lists no tickets")
	}
	p.do(200, "POST", "/v1/people/"+p.id["aBasic"]+"/demote", p.tn.AdminToken, nil)
	inv := p.do(200, "POST", "/v1/contacts/"+p.id["aBasic"]+"/promote", p.tn.AdminToken, map[string]any{"role": "basic", "sites": []string{p.a1}})
	newTok := p.svc.Token(p.tn.ID, "sub-aBasic-again")
	p.do(200, "POST", "/v1/invitations/accept", newTok, map[string]any{"token": inv.ID("invitation_token")})
	for range 3 {
		expect(t, p.get("/v1/me/tickets", p.tok["aBasic"]), 403, "unknown-identity")
		expect(t, p.svc.DoWith("POST", "/v1/check", p.tok["aBasic"], map[string]any{"resource": map[string]any{"type": "ticket", "id": p.t1}},
			map[string]string{readapi.MinPositionHeader: p.last.Header.Get("X-Log-Position")}), 403, "unknown-identity")
	}
	if got := listed(t, p.get("/v1/me/tickets", newTok)); got[p.t1] == "" {
		t.Fatalf("after the new acceptance aBasic does not list %s: %v", p.t1, got)
	}
}
