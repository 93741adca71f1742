package readapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestARefusalReadFromVanishedModelsIsUnavailable: once a read saw the read models vanished, its
// refusal is answered 503 read-models-rebuilding even if the models are back by the time it is
// written — a 404 would tell the caller the resource is not there (CI caught that race).
func TestARefusalReadFromVanishedModelsIsUnavailable(t *testing.T) {
	gin.SetMode(gin.TestMode)
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest(http.MethodPost, "/v1/check", nil)
	a := &API{logger: slog.New(slog.DiscardHandler)} // no models: fail must not need to look again
	a.fail(c, errRebuilding)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"code":"read-models-rebuilding"`) {
		t.Fatalf("answered %d %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}
