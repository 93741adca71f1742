// Package openapi builds the service's OpenAPI 3.1 document from the operations each HTTP API
// declares beside its routes, so that the document cannot drift from the implementation: every
// route is declared once, with the Go types it reads and writes, and a test checks that the
// routes Gin serves and the operations declared are the same set.
package openapi

// Operation is one route as the document describes it. Request, and each response body, are
// sample values of the Go types the handler decodes and encodes (their JSON tags and types
// become the schemas); nil means no body.
type Operation struct {
	Method  string // GET, POST, PUT, PATCH, DELETE
	Path    string // Gin syntax: /v1/companies/:company_id
	ID      string // operationId, unique
	Summary string
	Tags    []string
	// Query parameters (name → description); PathParams come from Path.
	Query map[string]string
	// Headers the operation reads besides Authorization (name → description).
	Headers map[string]string
	// Request is a sample of the decoded body. A struct with no JSON-visible field (only
	// path-filled ones, tagged json:"-") declares no request body.
	Request any
	// Responses maps a status code to a sample body (nil: no body). Problem responses
	// (application/problem+json) are added for every 4xx/5xx code listed in Problems;
	// 401 is implied for every operation that is not Public.
	Responses map[int]any
	Problems  []int
	// Public operations need no bearer token.
	Public bool
	// Produces lists extra media types of the 200 response (e.g. application/x-ndjson).
	Produces []string

	// Description is a longer explanation (CommonMark) beside Summary.
	Description string
	// ResponseHeaders are headers every 2xx response carries (name → description).
	ResponseHeaders map[string]string
}
