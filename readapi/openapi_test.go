package readapi_test

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/portal-access/backend/commands/httpapi"
	"github.com/portal-access/backend/internal/app"
	"github.com/portal-access/backend/internal/openapi/openapitest"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/readapi"
)

// docValidator checks, through testkit.Observe, every answer any test of this package receives
// (read and command routes alike) against the service's OpenAPI document.
var docValidator *openapitest.Validator

func readOperations() *readapi.API { return readapi.New(nil, nil, readapi.Config{}, nil) }

// TestMain validates every answer of every test against the OpenAPI document and, when the
// whole package ran, checks that every read operation answered a validated success.
func TestMain(m *testing.M) {
	flag.Parse()
	doc, err := app.OpenAPI(httpapi.New(nil, nil, nil), readOperations())
	if err == nil {
		docValidator, err = openapitest.NewValidator(doc)
	}
	if err == nil {
		err = openapitest.ValidateDocument(doc)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		os.Exit(1)
	}
	benchmarking := flag.Lookup("test.bench").Value.String() != ""
	if !benchmarking {
		testkit.Observe = func(t testing.TB, method, path string, r testkit.Response) {
			if err := docValidator.ValidateResponse(method, path, r.Status, r.Header.Get("Content-Type"), r.Raw); err != nil {
				t.Errorf("%s %s: the answer does not match the OpenAPI document: %v", method, path, err)
			}
		}
	}
	code := m.Run()
	filtered := flag.Lookup("test.run").Value.String() != "" || flag.Lookup("test.skip").Value.String() != ""
	if code == 0 && !filtered && !benchmarking {
		var missing []string
		seen := docValidator.Seen()
		for _, op := range readOperations().Operations() {
			if !slices.ContainsFunc(seen[op.ID], func(s int) bool { return s >= 200 && s < 300 }) {
				missing = append(missing, op.ID)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			fmt.Fprintf(os.Stderr, "FAIL: no test validated a success answer of these read operations against the OpenAPI document: %s\n", strings.Join(missing, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

// TestTheDocumentIsWhatTheServiceServes: the running service's routes are exactly the
// document's operations, and GET /openapi.json serves the document.
func TestTheDocumentIsWhatTheServiceServes(t *testing.T) {
	svc := testkit.StartService(t)
	doc, err := app.OpenAPI(httpapi.New(nil, nil, nil), readOperations())
	if err != nil {
		t.Fatal(err)
	}
	r := svc.Must(200, svc.Do("GET", "/openapi.json", "", nil))
	if string(r.Raw) != string(doc) {
		t.Fatal("GET /openapi.json is not the document built from the declared operations")
	}
	paths, _ := r.Body["paths"].(map[string]any)
	served := map[string]bool{}
	for _, rt := range svc.App.Routes() {
		key := rt.Method + " " + openapiPath(rt.Path)
		served[key] = true
		ops, _ := paths[openapiPath(rt.Path)].(map[string]any)
		if ops[strings.ToLower(rt.Method)] == nil {
			t.Errorf("%s is served but not in the document", key)
		}
	}
	for p, ops := range paths {
		for m := range ops.(map[string]any) {
			if !served[strings.ToUpper(m)+" "+p] {
				t.Errorf("%s %s is in the document but not served", strings.ToUpper(m), p)
			}
		}
	}
}

// openapiPath turns Gin's /a/:b into /a/{b}.
func openapiPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}
