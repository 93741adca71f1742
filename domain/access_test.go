package domain

import (
	"maps"
	"slices"
	"testing"
)

func TestCompanyAccessCommands(t *testing.T) {
	at := func(level AccessLevel, holder string) AccessHolder { return AccessHolder{Level: level, Holder: holder} }
	userA := at(LevelUser, string(aMember))
	granted := []Event{CompanyAccessGranted{Level: LevelUser, Holder: string(aMember), Target: coB}}
	runDecide(t, []decideCase{
		{name: "company level by a company manager", by: U(root), cmd: GrantCompanyAccess{AccessHolder: at(LevelCompany, string(coA)), Target: coB, WithSubsidiaries: true},
			want: []Event{CompanyAccessGranted{Level: LevelCompany, Holder: string(coA), Target: coB, WithSubsidiaries: true}}},
		{name: "group level by a tenant admin", by: U(root), cmd: GrantCompanyAccess{AccessHolder: at(LevelGroup, string(grpPortal)), Target: coB},
			want: []Event{CompanyAccessGranted{Level: LevelGroup, Holder: string(grpPortal), Target: coB}}},
		{name: "user level by a user manager", by: U(um), cmd: GrantCompanyAccess{AccessHolder: userA, Target: coB},
			want: granted},
		{name: "the same grant again", given: granted, by: U(um), cmd: GrantCompanyAccess{AccessHolder: userA, Target: coB}, noop: true},
		{name: "the same target with subsidiaries now", given: granted, by: U(um), cmd: GrantCompanyAccess{AccessHolder: userA, Target: coB, WithSubsidiaries: true},
			want: []Event{CompanyAccessGranted{Level: LevelUser, Holder: string(aMember), Target: coB, WithSubsidiaries: true}}},
		{name: "a user manager may not change company level", by: U(um), cmd: GrantCompanyAccess{AccessHolder: at(LevelCompany, string(coA)), Target: coB}, err: ErrForbidden},
		{name: "a user manager may not change group level", by: U(um), cmd: GrantCompanyAccess{AccessHolder: at(LevelGroup, string(grpPortal)), Target: coB}, err: ErrForbidden},
		{name: "a portal master admin may not widen its company", by: U(aMaster), cmd: GrantCompanyAccess{AccessHolder: at(LevelCompany, string(coA)), Target: coB}, err: ErrForbidden},
		{name: "contacts have no access", by: U(um), cmd: GrantCompanyAccess{AccessHolder: at(LevelUser, string(aContact)), Target: coB}, err: ErrContactCannotLogIn},
		{name: "bad level", by: U(root), cmd: GrantCompanyAccess{AccessHolder: at("tenant", "x"), Target: coB}, err: ErrInvalid, field: "level"},
		{name: "unknown holder", by: U(root), cmd: GrantCompanyAccess{AccessHolder: at(LevelGroup, "nope"), Target: coB}, err: ErrNotFound},
		{name: "unknown target", by: U(um), cmd: GrantCompanyAccess{AccessHolder: userA, Target: "nope"}, err: ErrNotFound},

		{name: "revoke", given: granted, by: U(um), cmd: RevokeCompanyAccess{AccessHolder: userA, Target: coB},
			want: []Event{CompanyAccessRevoked{Level: LevelUser, Holder: string(aMember), Target: coB}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if s := d.People[aMember].Access; s == nil || len(s.Targets) != 0 {
					t.Fatalf("the setting must stay, empty: %+v", s)
				}
			}},
		{name: "revoke without a setting", by: U(um), cmd: RevokeCompanyAccess{AccessHolder: userA, Target: coB}, err: ErrNotFound},
		{name: "revoke a target not listed", given: granted, by: U(um), cmd: RevokeCompanyAccess{AccessHolder: userA, Target: coC}, err: ErrNotFound},
		{name: "revoke needs the right", given: granted, by: U(aAdmin), cmd: RevokeCompanyAccess{AccessHolder: userA, Target: coB}, err: ErrForbidden},

		{name: "clear", given: granted, by: U(um), cmd: ClearCompanyAccess{AccessHolder: userA},
			want: []Event{CompanyAccessCleared{Level: LevelUser, Holder: string(aMember)}},
			check: func(t *testing.T, d *Directory, _ []Event) {
				if d.People[aMember].Access != nil {
					t.Fatal("setting not cleared")
				}
			}},
		{name: "clear without a setting", by: U(um), cmd: ClearCompanyAccess{AccessHolder: userA}, noop: true},
		{name: "clear needs the right", given: granted, by: U(staff), cmd: ClearCompanyAccess{AccessHolder: userA}, err: ErrForbidden},
	})
}

func TestEffectiveAccess(t *testing.T) {
	scope := func(d *Directory, id PersonID) []CompanyID {
		return slices.Sorted(maps.Keys(d.EffectiveAccessOf(d.People[id]).Companies))
	}
	daughter := []Event{CompanyRegistered{Company: "B2", Name: "Beta Two", Kind: KindCustomer, Parent: coB}}

	t.Run("normal user without any setting is unrestricted", func(t *testing.T) {
		d := given()
		if ea := d.EffectiveAccessOf(d.People[staff]); !ea.Unrestricted || ea.Level != "" {
			t.Fatalf("%+v", ea)
		}
	})
	t.Run("support user without any setting sees its own company", func(t *testing.T) {
		d := given()
		ea := d.EffectiveAccessOf(d.People[aMember])
		if ea.Unrestricted || !slices.Equal(scope(d, aMember), []CompanyID{coA}) || ea.Companies[coA] != LevelOwn {
			t.Fatalf("%+v", ea)
		}
	})
	t.Run("normal user with a company-level setting: own company plus the list", func(t *testing.T) {
		d := given(CompanyAccessGranted{Level: LevelCompany, Holder: string(prov), Target: coA})
		ea := d.EffectiveAccessOf(d.People[staff])
		if ea.Unrestricted || ea.Level != LevelCompany || !slices.Equal(scope(d, staff), []CompanyID{coA, prov}) {
			t.Fatalf("%+v", ea)
		}
	})
	t.Run("with subsidiaries includes daughters", func(t *testing.T) {
		d := given(append(daughter, CompanyAccessGranted{Level: LevelGroup, Holder: string(grpPortal), Target: coB, WithSubsidiaries: true})...)
		if got := scope(d, aMember); !slices.Equal(got, []CompanyID{coA, coB, "B2"}) {
			t.Fatalf("scope %v", got)
		}
	})
	t.Run("the most specific level wins", func(t *testing.T) {
		d := given(CompanyAccessGranted{Level: LevelGroup, Holder: string(grpPortal), Target: coB},
			CompanyAccessGranted{Level: LevelUser, Holder: string(aMember), Target: coC})
		ea := d.EffectiveAccessOf(d.People[aMember])
		if ea.Level != LevelUser || !slices.Equal(scope(d, aMember), []CompanyID{coA, coC}) {
			t.Fatalf("%+v", ea)
		}
	})
	t.Run("revoking the last target never widens access", func(t *testing.T) {
		d := given(CompanyAccessGranted{Level: LevelGroup, Holder: string(grpPortal), Target: coB},
			CompanyAccessGranted{Level: LevelUser, Holder: string(aMember), Target: coC},
			CompanyAccessRevoked{Level: LevelUser, Holder: string(aMember), Target: coC})
		if got := scope(d, aMember); !slices.Equal(got, []CompanyID{coA}) {
			t.Fatalf("scope %v: fell back to the group level", got)
		}
		// And a normal user whose only setting became empty is no longer unrestricted.
		d = given(CompanyAccessGranted{Level: LevelUser, Holder: string(staff), Target: coA},
			CompanyAccessRevoked{Level: LevelUser, Holder: string(staff), Target: coA})
		if ea := d.EffectiveAccessOf(d.People[staff]); ea.Unrestricted || !slices.Equal(scope(d, staff), []CompanyID{prov}) {
			t.Fatalf("%+v", ea)
		}
	})
	t.Run("clearing lets the next level decide", func(t *testing.T) {
		d := given(CompanyAccessGranted{Level: LevelGroup, Holder: string(grpPortal), Target: coB},
			CompanyAccessGranted{Level: LevelUser, Holder: string(aMember), Target: coC},
			CompanyAccessCleared{Level: LevelUser, Holder: string(aMember)})
		if got := scope(d, aMember); !slices.Equal(got, []CompanyID{coA, coB}) {
			t.Fatalf("scope %v", got)
		}
	})
}

// Has answers what Expand's list holds, for every named set (and none) with every explicit
// list of up to two permissions and every permission asked.
func TestPermissionSetHasIsExpand(t *testing.T) {
	names := []string{""}
	for n := range namedSets {
		names = append(names, n)
	}
	lists := [][]Permission{nil}
	for _, a := range allPermissions {
		lists = append(lists, []Permission{a})
		for _, b := range allPermissions {
			lists = append(lists, []Permission{a, b})
		}
	}
	for _, n := range names {
		for _, l := range lists {
			set := PermissionSet{Named: n, List: l}
			for _, perm := range append(slices.Clone(allPermissions), "unknown:perm") {
				if got, want := set.Has(perm), slices.Contains(set.Expand(), perm); got != want {
					t.Fatalf("%+v.Has(%s) = %v, Expand holds it: %v", set, perm, got, want)
				}
			}
		}
	}
}
