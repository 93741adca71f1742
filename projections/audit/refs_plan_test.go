package audit

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
)

func checkRefs(t *testing.T, payload any) {
	t.Helper()
	s, c := Refs(payload)
	ws, wc := ReferenceRefs(payload)
	if !slices.Equal(s, ws) || !slices.Equal(c, wc) || (s == nil) != (ws == nil) || (c == nil) != (wc == nil) {
		t.Fatalf("%T %+v: Refs %q %q, the reflection walk %q %q", payload, payload, s, c, ws, wc)
	}
}

// Refs by plan finds what the reflection walk finds, for payloads of every registered type with
// random fields (pointers and values) and every domain event.
func TestRefsPlanIsTheWalkForEveryEventType(t *testing.T) {
	reg := eventschema.MustPortal()
	events, err := RandEvents(rand.New(rand.NewPCG(7, 8)), reg, 100*len(reg.Types()))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		checkRefs(t, e.Payload)
	}
	for _, e := range domain.AllEvents() {
		checkRefs(t, e)
		p := reflect.New(reflect.TypeOf(e))
		p.Elem().Set(reflect.ValueOf(e))
		checkRefs(t, p.Interface())
	}
}

// Shapes no event has today, for the parts of the walk the events do not reach: maps,
// interfaces, arrays, pointers, embedding, recursion, ignored and unexported fields, and the
// holder/level/responsible rules in odd places.
type (
	refsNested struct {
		Level  domain.AccessLevel `json:"level"`
		Holder string             `json:"holder"`
		Person *domain.PersonID   `json:"person"`
	}
	RefsEmbedded struct {
		Group domain.GroupID `json:"group"`
	}
	refsHidden struct {
		Site domain.SiteID `json:"site"`
	}
	refsTree struct {
		Company  domain.CompanyID `json:"company"`
		Children []*refsTree      `json:"children"`
		Next     *refsTree        `json:"next"`
	}
	refsOdd struct {
		RefsEmbedded
		refsHidden
		Level       string                               `json:"level"`
		Holder      string                               `json:"holder"`
		Responsible string                               `json:"responsible"`
		Ignored     domain.PersonID                      `json:"-"`
		Dash        domain.PersonID                      `json:"-,"`
		hidden      domain.PersonID                      //nolint:unused // the walk skips unexported fields
		Untagged    domain.TicketID                      //
		ByMap       map[domain.SiteID]domain.PersonID    `json:"by_map"`
		MapOfLists  map[string][]domain.CompanyID        `json:"map_of_lists"`
		Any         any                                  `json:"any"`
		Anys        []any                                `json:"anys"`
		Array       [2]domain.DocID                      `json:"array"`
		Nested      refsNested                           `json:"nested"`
		NestedPtr   *refsNested                          `json:"nested_ptr"`
		PtrPtr      **domain.CompanyID                   `json:"ptr_ptr"`
		Tree        *refsTree                            `json:"tree"`
		When        time.Time                            `json:"when"`
		Plain       string                               `json:"plain"`
		Count       int                                  `json:"count"`
		Funcs       map[string]func()                    `json:"-"`
		Deep        map[domain.CompanyID]map[string]*any `json:"deep"`
	}
	refsHolderKinds struct {
		Level       domain.AccessLevel `json:"level"`
		Holder      []string           `json:"holder"`
		Responsible domain.PersonID    `json:"responsible"`
	}
	refsHolderTyped struct {
		Holder domain.CompanyID `json:"holder"`
		Level  int              `json:"level"`
	}
	refsHolderStruct struct {
		Holder refsNested `json:"holder"`
		Level  string     `json:"level"`
	}
)

func TestRefsPlanIsTheWalkForOtherShapes(t *testing.T) {
	c := domain.CompanyID("c-ptr")
	pc := &c
	var anyID any = domain.GroupID("g-any")
	tree := &refsTree{Company: "root", Children: []*refsTree{{Company: "kid"}, nil}}
	tree.Next = &refsTree{Company: "next", Next: &refsTree{}}
	p := domain.PersonID("p-nested")
	odd := refsOdd{RefsEmbedded: RefsEmbedded{Group: "g-emb"}, refsHidden: refsHidden{Site: "s-hidden"}, Level: "company",
		Holder: "h1", Responsible: "r1", Ignored: "p-ignored", Dash: "p-dash", hidden: "p-hidden", Untagged: "t-untagged",
		ByMap: map[domain.SiteID]domain.PersonID{"s1": "p1", "": "p2", "s3": ""}, MapOfLists: map[string][]domain.CompanyID{"x": {"c1", "c2"}},
		Any: domain.TicketID("t-any"), Anys: []any{domain.PersonID("p-anys"), &refsNested{Level: "company", Holder: "h-anys"}, nil, 3, "plain"},
		Array: [2]domain.DocID{"d1", ""}, Nested: refsNested{Level: "user", Holder: "h-nested", Person: &p},
		NestedPtr: &refsNested{Level: "company", Holder: "h-nested-ptr"}, PtrPtr: &pc, Tree: tree, When: time.Now(), Plain: "u1", Count: 3,
		Deep: map[domain.CompanyID]map[string]*any{"c-deep": {"k": &anyID, "nil": nil}}}
	for _, payload := range []any{
		nil, (*refsOdd)(nil), odd, &odd, refsOdd{}, &refsOdd{Level: "company"},
		refsHolderKinds{Level: "company", Holder: []string{"h1", "h2"}, Responsible: "p1"},
		refsHolderTyped{Holder: "c1", Level: 3},
		twoLevels("company", "user"), twoLevels("user", "company"),
		refsHolderStruct{Holder: refsNested{Level: "company", Holder: "h-in", Person: &p}, Level: "company"},
		tree, *tree, domain.PersonID("p-alone"), domain.CompanyID("c-alone"), "not an id", 42,
		[]domain.SiteID{"s2", "s1", "s2"}, map[domain.CompanyID]bool{"c1": true}, &anyID, []any{odd, &odd},
		[]refsTree{{Company: "c"}},
	} {
		checkRefs(t, payload)
	}
}

// Plans are built once per type and shared: many goroutines at once find the same ids.
func TestRefsPlanConcurrently(t *testing.T) {
	reg := eventschema.MustPortal()
	events, err := RandEvents(rand.New(rand.NewPCG(9, 10)), reg, 4*len(reg.Types()))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range events {
				e := events[(i+g*7)%len(events)]
				s, c := Refs(e.Payload)
				ws, wc := ReferenceRefs(e.Payload)
				if !slices.Equal(s, ws) || !slices.Equal(c, wc) {
					t.Errorf("%s: Refs %q %q, the walk %q %q", e.Envelope.Type, s, c, ws, wc)
					return
				}
			}
		})
	}
	wg.Wait()
}

// twoLevels is a struct with two fields named "level" in JSON (which vet refuses in source): the
// last one decides whether the holder is a company.
func twoLevels(first, second string) any {
	str := reflect.TypeFor[string]()
	typ := reflect.StructOf([]reflect.StructField{
		{Name: "Level", Type: reflect.TypeFor[domain.AccessLevel](), Tag: `json:"level"`},
		{Name: "Holder", Type: str, Tag: `json:"holder"`},
		{Name: "Other", Type: str, Tag: `json:"level,omitempty"`},
	})
	v := reflect.New(typ).Elem()
	v.Field(0).SetString(first)
	v.Field(1).SetString("h1")
	v.Field(2).SetString(second)
	return v.Interface()
}
