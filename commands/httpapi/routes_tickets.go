package httpapi

import "github.com/gin-gonic/gin"

func (a *API) routesTickets(v1 *gin.RouterGroup) {}
