package api

import (
	"github.com/gin-gonic/gin"

	"github.com/lokiz/lokiz"
)

// requireAdmin guards /v1/admin/*. It runs after requireSession, which
// answers 401 to an anonymous caller and 403 to an API key; any signed-in
// user who is not an admin gets 403 here. The role is read with the session
// on every request (authenticate), so a revoked role takes effect on the
// next request, not when the access token expires. No route changes a
// role: admins are made and unmade by `lokiz admin` on the command line.
func (s *Server) requireAdmin(c *gin.Context) {
	if mustUser(c).Role != lokiz.RoleAdmin {
		s.writeError(c, &lokiz.Error{Code: lokiz.EFORBIDDEN, Reason: "admin_only",
			Message: "Only administrators may use this route"})
		return
	}
	c.Next()
}
