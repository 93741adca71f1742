package eventschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"github.com/portal-access/backend/domain"
)

// The fast path must agree with the general one: whatever the input, when fastDecode accepts it
// the general decoding (strict for payloads, encoding/json for the metadata) accepts it too and
// gives the same value. These tests compare both on random values of every portal type, encoded
// as Encode writes them and then disturbed (whitespace, case-folded, unknown and duplicate keys,
// escapes, byte flips, truncation, trailing data).

// slowPayload is the general path of Decode for a payload of type t.
func slowPayload(data []byte, t reflect.Type) (any, error) {
	if !json.Valid(data) || !isObject(data) {
		return nil, fmt.Errorf("invalid")
	}
	return decodeStrict(data, t)
}

// fastPayload is the fast path alone.
func fastPayload(data []byte, t reflect.Type) (any, bool) {
	v := reflect.New(t)
	if !fastDecode(fastPlanOf(t), data, v.UnsafePointer()) {
		return nil, false
	}
	return v.Interface(), true
}

func checkAgree(t *testing.T, data []byte, typ reflect.Type) (fastOK bool) {
	t.Helper()
	fast, ok := fastPayload(data, typ)
	if !ok {
		return false
	}
	slow, err := slowPayload(data, typ)
	if err != nil {
		t.Fatalf("%s: the fast path accepted what the general path refuses (%v):\n%s", typ, err, data)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%s: the paths disagree on\n%s\nfast: %#v\nslow: %#v", typ, data, fast, slow)
	}
	return true
}

func checkMetaAgree(t *testing.T, data []byte) bool {
	t.Helper()
	var fast metadataDoc
	if !fastDecode(metadataPlan(), data, unsafe.Pointer(&fast)) {
		return false
	}
	var slow metadataDoc
	if err := json.Unmarshal(data, &slow); err != nil {
		t.Fatalf("metadata: the fast path accepted what encoding/json refuses (%v):\n%s", err, data)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("metadata: the paths disagree on\n%s\nfast: %#v\nslow: %#v", data, fast, slow)
	}
	return true
}

var tricky = []string{"", "a", "Acme GmbH", "Köln", "日本", "\"quoted\"", `back\slash`, "tab\there", "nl\n", "\x00",
	"\u2028", "<html>&", "\xff\xfe", "😀", "  spaced  "}

// randomValue fills v (settable) with a random value of its type.
func randomValue(r *rand.Rand, v reflect.Value) {
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(time.Unix(r.Int64N(1<<34), r.Int64N(1e9)).In(time.FixedZone("", 60*(r.IntN(1440)-720)))))
		if r.IntN(2) == 0 {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC()))
		}
		return
	case v.Type() == uuidType:
		v.Set(reflect.ValueOf(uuid.New()))
		return
	}
	switch v.Kind() {
	case reflect.String:
		if r.IntN(3) == 0 {
			v.SetString(tricky[r.IntN(len(tricky))])
		} else {
			v.SetString(fmt.Sprintf("id-%d", r.IntN(1000)))
		}
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int64:
		switch r.IntN(4) {
		case 0:
			v.SetInt(0)
		case 1:
			v.SetInt(-r.Int64())
		default:
			v.SetInt(r.Int64N(100000))
		}
	case reflect.Slice:
		switch r.IntN(4) {
		case 0: // nil: null
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			n := 1 + r.IntN(4)
			s := reflect.MakeSlice(v.Type(), n, n)
			for i := range n {
				randomValue(r, s.Index(i))
			}
			v.Set(s)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				randomValue(r, v.Field(i))
			}
		}
	}
}

// disturb returns variants of a valid encoding.
func disturb(r *rand.Rand, data []byte) [][]byte {
	s := string(data)
	out := [][]byte{data}
	// Whitespace around every token.
	ws := strings.NewReplacer(`":`, `" : `, `,"`, ", \n\t\"", `{`, "{ ", `}`, " }\r\n", `[`, "[ ", `]`, " ]")
	out = append(out, []byte(ws.Replace(s)), []byte(" \n"+s+"\t "))
	// A key case-folded, an unknown key, a duplicate key, an escaped key.
	if i := strings.Index(s, `{"`); i >= 0 && len(s) > i+2 {
		k := s[i+2]
		if 'a' <= k && k <= 'z' {
			out = append(out, []byte(s[:i+2]+string(k-32)+s[i+3:]))
		}
		out = append(out, []byte(s[:i+1]+`"zz_unknown":1,`+s[i+1:]))
		if j := strings.Index(s[i:], `",`); j > 0 {
			key := s[i+1 : i+j+1]
			out = append(out, []byte(s[:len(s)-1]+`,`+key+`:null}`))
			out = append(out, []byte(s[:i+2]+`\u00`+fmt.Sprintf("%02x", s[i+2])+s[i+3:]))
		}
	}
	// Nulls, floats, exponents, leading zeros, trailing data and truncations.
	for _, rep := range [][2]string{{`":"`, `":null,"x":"`}, {`":0`, `":0.0`}, {`":1`, `":1e0`}, {`":1`, `":01`},
		{`":true`, `":null`}, {`":[]`, `":null`}, {`":[`, `":[null,`}, {`":"`, `":1,"y":"`}} {
		if strings.Contains(s, rep[0]) {
			out = append(out, []byte(strings.Replace(s, rep[0], rep[1], 1)))
		}
	}
	out = append(out, []byte(s+"{}"), []byte(s+","), []byte(s[:len(s)-1]), []byte(s[:len(s)/2]), []byte(s+" x"))
	// Random byte flips.
	for range 20 {
		b := bytes.Clone(data)
		for range 1 + r.IntN(3) {
			const alphabet = "{}[]\",:\\ 0a-.eEtnul\x00\xff"
			b[r.IntN(len(b))] = alphabet[r.IntN(len(alphabet))]
		}
		out = append(out, b)
	}
	return out
}

func TestFastPathAgreesWithTheGeneralPath(t *testing.T) {
	reg := MustPortal()
	r := rand.New(rand.NewPCG(7, 11))
	for _, info := range reg.Types() {
		def, _ := reg.lookup(info.Type)
		if fastPlanOf(def.goType) == nil {
			t.Errorf("%s: the fast path does not cover %s", info.Type, def.goType)
			continue
		}
		fastHits := 0
		for range 300 {
			v := reflect.New(def.goType)
			randomValue(r, v.Elem())
			data, err := json.Marshal(v.Interface())
			if err != nil {
				t.Fatal(err)
			}
			for i, variant := range disturb(r, data) {
				ok := checkAgree(t, variant, def.goType)
				if i == 0 && ok {
					fastHits++
				}
			}
		}
		if fastHits < 50 {
			t.Errorf("%s: the fast path took only %d of 300 plain encodings", info.Type, fastHits)
		}
	}
	fastHits := 0
	for range 2000 {
		var md metadataDoc
		randomValue(r, reflect.ValueOf(&md).Elem())
		data, err := json.Marshal(md)
		if err != nil {
			t.Fatal(err)
		}
		for i, variant := range disturb(r, data) {
			if checkMetaAgree(t, variant) && i == 0 {
				fastHits++
			}
		}
	}
	if fastHits < 100 {
		t.Errorf("metadata: the fast path took only %d of 2000 plain encodings", fastHits)
	}
}

// The fast path refuses what it must leave to the general path.
func TestFastPathRefuses(t *testing.T) {
	typ := reflect.TypeFor[domain.TicketOpened]()
	for _, in := range []string{
		`{"Ticket":"t"}`, `{"ticket":"t","ticket":"u"}`, `{"ticket":"t\"u"}`, `{"ticket":"t","x":1}`, `{"ticket":null}`,
		`{"ticket":"t"} {}`, `{"ticket":"t",}`, `{"ticket":"t"`, `["ticket"]`, `{"ticket":"a` + "\x01" + `"}`, `{"ticket":"` + "\xff" + `"}`,
	} {
		if _, ok := fastPayload([]byte(in), typ); ok {
			t.Errorf("the fast path accepted %s", in)
		}
	}
	if _, ok := fastPayload([]byte(` { "ticket" : "t" , "title":"Köln" } `), typ); !ok {
		t.Error("the fast path refused a plain object")
	}
	if fastPlanOf(reflect.TypeFor[struct{ M map[string]string }]()) != nil || fastPlanOf(reflect.TypeFor[struct{ P *string }]()) != nil ||
		fastPlanOf(reflect.TypeFor[struct{ F float64 }]()) != nil || fastPlanOf(reflect.TypeFor[struct {
		N int `json:",string"`
	}]()) != nil {
		t.Error("a plan was compiled for a type the fast path does not handle")
	}
}

// FuzzFastDecode: on any input, the fast path accepts only what the general path accepts, with
// the same value.
func FuzzFastDecode(f *testing.F) {
	types := []reflect.Type{reflect.TypeFor[domain.TicketOpened](), reflect.TypeFor[domain.MembershipGranted](),
		reflect.TypeFor[domain.SitePermissionsSet](), reflect.TypeFor[domain.TenantConfigured]()}
	r := rand.New(rand.NewPCG(1, 2))
	for _, typ := range types {
		v := reflect.New(typ)
		randomValue(r, v.Elem())
		data, _ := json.Marshal(v.Interface())
		f.Add(data)
	}
	md := metadataDoc{Envelope: Envelope{EventID: uuid.New(), Type: "X", SchemaVersion: 1, Tenant: "t", OccurredAt: time.Now(),
		Actor: UserActor("u"), CorrelationID: "c", CausationID: "c", Command: "C"}}
	data, _ := json.Marshal(md)
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range types {
			checkAgree(t, data, typ)
		}
		checkMetaAgree(t, data)
	})
}
