package readapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/auth"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/visibility"
	"github.com/portal-access/backend/readapi"
)

// TestTicketListingWalksOrMergesTheSameTickets: a viewer whose scope indexes hold most of the
// tenant's tickets is listed by walking the tenant's index, one who holds a small share by
// merging its indexes; either way, paged by 7 or 50, the listing is exactly the tickets of its
// scope (the union of its indexes, read independently), newest first.
func TestTicketListingWalksOrMergesTheSameTickets(t *testing.T) {
	for _, tc := range []struct {
		name               string
		companies, tickets int
		granted            int
	}{{"most of the tenant (walk)", 20, 15, 18}, {"a small share (merge)", 60, 5, 6}, {"one company", 10, 12, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			rdb, prefix := testkit.Redis(t)
			keys := projections.Keys{Prefix: prefix, Gen: 1}
			buildTenant(t, rdb, keys, tc.companies, tc.tickets, tc.granted)
			want, err := visibility.NewReader(rdb, keys).TicketIDs(context.Background(), benchTenant, "p-viewer")
			if err != nil {
				t.Fatal(err)
			}
			// Ticket ids are t-<opening order>: newest first is descending id order.
			slices.Reverse(want)
			if len(want) != tc.granted*tc.tickets {
				t.Fatalf("the viewer's indexes hold %d tickets, want %d", len(want), tc.granted*tc.tickets)
			}
			gin.SetMode(gin.ReleaseMode)
			dev, _ := auth.NewDev(testkit.DevSecret)
			engine := gin.New()
			readapi.New(rdb, staticModels{keys}, readapi.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(engine, dev)
			ts := httptest.NewServer(engine)
			defer ts.Close()
			tok, _ := dev.Mint(benchTenant, domain.PrincipalUser, "sub-p-viewer", nil, time.Hour)
			for _, limit := range []int{7, 50} {
				var got []string
				cursor := ""
				for range 1000 {
					url := fmt.Sprintf("/v1/me/tickets?limit=%d", limit)
					if cursor != "" {
						url += "&cursor=" + cursor
					}
					page := getPage(t, ts.URL+url, tok)
					for _, it := range page.Items {
						got = append(got, string(it.ID))
					}
					if cursor = page.NextCursor; cursor == "" {
						break
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("limit %d: listed %d tickets %v…, want %d %v…", limit, len(got), head(got), len(want), head(want))
				}
			}
		})
	}
}

func head[T any](s []T) []T { return s[:min(len(s), 5)] }

func getPage(t *testing.T, url, tok string) readapi.Page[readapi.TicketView] {
	t.Helper()
	req := mustReq(nil, url, tok)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page readapi.Page[readapi.TicketView]
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := jsonDecode(resp.Body, &page); err != nil {
		t.Fatal(err)
	}
	return page
}

var httpClient = &http.Client{}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
