package httpapi

import (
	"context"
	"net/http"

	"github.com/portal-access/backend/commands"
	"github.com/portal-access/backend/domain"
)

const tagDirectory = "directory"

func directoryRoutes() []routeDef {
	type H = *commands.Handlers
	rs := []routeDef{
		command(http.MethodPut, "/tenant", tagDirectory, "configure the tenant: its name and seats (tenant:admin)",
			func(h H) commands.Handler[commands.ConfigureTenant] { return h.Directory.ConfigureTenant }, false),
		command(http.MethodPost, "/companies", tagDirectory, "register a company (customer, partner, contractor, provider), optionally under a parent",
			func(h H) commands.Handler[commands.RegisterCompany] { return h.Directory.RegisterCompany }, true),
		command(http.MethodPut, "/companies/:company_id/name", tagDirectory, "rename a company",
			func(h H) commands.Handler[commands.RenameCompany] { return h.Directory.RenameCompany }, false),
		command(http.MethodPut, "/companies/:company_id/parent", tagDirectory, "move a company under another parent",
			func(h H) commands.Handler[commands.SetParentCompany] { return h.Directory.SetParentCompany }, false),
		command(http.MethodPost, "/companies/:company_id/sites", tagDirectory, "add a site to a company",
			func(h H) commands.Handler[commands.AddSite] { return h.Directory.AddSite }, true),
		command(http.MethodDelete, "/companies/:company_id/sites/:site_id", tagDirectory, "remove a site of a company",
			func(h H) commands.Handler[commands.RemoveSite] { return h.Directory.RemoveSite }, false),
		command(http.MethodPost, "/groups", tagDirectory, "create a user group with its permissions",
			func(h H) commands.Handler[commands.CreateUserGroup] { return h.Directory.CreateUserGroup }, true),
		command(http.MethodPut, "/groups/:group_id/permissions", tagDirectory, "set a user group's permissions",
			func(h H) commands.Handler[commands.SetGroupPermissions] { return h.Directory.SetGroupPermissions }, false),
		command(http.MethodPut, "/people/:person_id/group", tagDirectory, "move a user to another user group",
			func(h H) commands.Handler[commands.MoveUserToGroup] { return h.Directory.MoveUserToGroup }, false),
	}

	// Company access on each level: .../access-grants.
	for _, l := range []struct {
		level             domain.AccessLevel
		base, name, label string
	}{
		{domain.LevelCompany, "/companies/:company_id", "CompanyLevel", "company level"},
		{domain.LevelGroup, "/groups/:group_id", "GroupLevel", "group level"},
		{domain.LevelUser, "/people/:person_id", "UserLevel", "user level"},
	} {
		level := l.level
		grant := command(http.MethodPost, l.base+"/access-grants", tagDirectory, l.label+": grant access to a target company (optionally with its subsidiaries)",
			func(h H) commands.Handler[commands.GrantCompanyAccess] {
				return atLevel(level, h.Directory.GrantCompanyAccess, func(c *commands.GrantCompanyAccess, l domain.AccessLevel) { c.Level = l })
			}, false)
		revoke := command(http.MethodDelete, l.base+"/access-grants/:target_id", tagDirectory, l.label+": revoke access to a target company",
			func(h H) commands.Handler[commands.RevokeCompanyAccess] {
				return atLevel(level, h.Directory.RevokeCompanyAccess, func(c *commands.RevokeCompanyAccess, l domain.AccessLevel) { c.Level = l })
			}, false)
		clear := command(http.MethodDelete, l.base+"/access-grants", tagDirectory, l.label+": clear the company-access list",
			func(h H) commands.Handler[commands.ClearCompanyAccess] {
				return atLevel(level, h.Directory.ClearCompanyAccess, func(c *commands.ClearCompanyAccess, l domain.AccessLevel) { c.Level = l })
			}, false)
		for _, r := range []*routeDef{&grant, &revoke, &clear} {
			r.op.ID += "At" + l.name
		}
		rs = append(rs, grant, revoke, clear)
	}
	return rs
}

// atLevel fixes the access level a route stands for.
func atLevel[C any](level domain.AccessLevel, h commands.Handler[C], set func(*C, domain.AccessLevel)) commands.Handler[C] {
	return commands.HandlerFunc[C](func(ctx context.Context, m commands.Meta, cmd C) (commands.Result, error) {
		set(&cmd, level)
		return h.Handle(ctx, m, cmd)
	})
}
