package httpapi

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/commands"
	"github.com/portal-access/backend/domain"
)

func (a *API) routesDirectory(v1 *gin.RouterGroup) {
	h := a.h.Directory
	v1.PUT("/tenant", route(a, h.ConfigureTenant, false))
	v1.POST("/companies", route(a, h.RegisterCompany, true))
	v1.PUT("/companies/:company_id/name", route(a, h.RenameCompany, false))
	v1.PUT("/companies/:company_id/parent", route(a, h.SetParentCompany, false))
	v1.POST("/companies/:company_id/sites", route(a, h.AddSite, true))
	v1.DELETE("/companies/:company_id/sites/:site_id", route(a, h.RemoveSite, false))
	v1.POST("/groups", route(a, h.CreateUserGroup, true))
	v1.PUT("/groups/:group_id/permissions", route(a, h.SetGroupPermissions, false))
	v1.PUT("/people/:person_id/group", route(a, h.MoveUserToGroup, false))

	// Company access on each level: .../access-grants.
	for level, base := range map[domain.AccessLevel]string{
		domain.LevelCompany: "/companies/:company_id", domain.LevelGroup: "/groups/:group_id", domain.LevelUser: "/people/:person_id",
	} {
		v1.POST(base+"/access-grants", route(a, atLevel(level, h.GrantCompanyAccess, func(c *commands.GrantCompanyAccess, l domain.AccessLevel) { c.Level = l }), false))
		v1.DELETE(base+"/access-grants/:target_id", route(a, atLevel(level, h.RevokeCompanyAccess, func(c *commands.RevokeCompanyAccess, l domain.AccessLevel) { c.Level = l }), false))
		v1.DELETE(base+"/access-grants", route(a, atLevel(level, h.ClearCompanyAccess, func(c *commands.ClearCompanyAccess, l domain.AccessLevel) { c.Level = l }), false))
	}
}

// atLevel fixes the access level a route stands for.
func atLevel[C any](level domain.AccessLevel, h commands.Handler[C], set func(*C, domain.AccessLevel)) commands.Handler[C] {
	return commands.HandlerFunc[C](func(ctx context.Context, m commands.Meta, cmd C) (commands.Result, error) {
		set(&cmd, level)
		return h.Handle(ctx, m, cmd)
	})
}
