package httpapi

import "github.com/gin-gonic/gin"

func (a *API) routesPeople(v1 *gin.RouterGroup) {
	h := a.h.People
	v1.POST("/invitations", route(a, h.InviteUser, true))
	v1.POST("/invitations/accept", route(a, h.AcceptInvitation, false, unbound()))
}
