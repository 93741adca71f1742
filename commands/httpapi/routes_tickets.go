package httpapi

import "github.com/gin-gonic/gin"

func (a *API) routesTickets(v1 *gin.RouterGroup) {
	h := a.h.Tickets
	v1.POST("/contractors", route(a, h.RegisterGuestContractor, true))
	v1.POST("/contractors/:company_id/technicians", route(a, h.AddTechnician, true))
	v1.POST("/tickets", route(a, h.OpenTicket, true))
	v1.PUT("/tickets/:ticket_id/status", route(a, h.ChangeTicketStatus, false))
	v1.PUT("/tickets/:ticket_id/assignee", route(a, h.AssignTicket, false))
	v1.PUT("/tickets/:ticket_id/contractor", route(a, h.AssignContractor, false))
	v1.POST("/tickets/:ticket_id/comments", route(a, h.CommentOnTicket, true))
	v1.POST("/tickets/:ticket_id/documents", route(a, h.AttachTicketDocument, true))
	v1.POST("/companies/:company_id/documents", route(a, h.AttachCompanyDocument, true))
}
