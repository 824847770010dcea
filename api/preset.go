package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lokiz/lokiz/db"
)

// presetPopularityWindow is how far back preset usage counts.
const presetPopularityWindow = 30 * 24 * time.Hour

type presetResponse struct {
	ID             string  `json:"id"`
	Kind           string  `json:"kind"`
	Name           string  `json:"name"`
	Description    string  `json:"description"`
	PreviewURL     *string `json:"preview_url"`
	JobType        string  `json:"job_type"`
	Model          string  `json:"model"`
	PromptTemplate string  `json:"prompt_template"`
	Cost           int32   `json:"cost"`
	Popularity     int64   `json:"popularity"`
}

func (s *Server) listPresets(kind string) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		rows, err := s.store.PresetsByKind(ctx, db.PresetsByKindParams{Kind: kind, Since: time.Now().Add(-presetPopularityWindow)})
		if err != nil {
			s.writeError(c, err)
			return
		}
		out := make([]presetResponse, len(rows))
		for i, p := range rows {
			out[i] = presetResponse{ID: p.ID, Kind: p.Kind, Name: p.Name, Description: p.Description,
				PreviewURL: s.mediaURL(ctx, p.PreviewKey), JobType: p.JobType, Model: p.Model,
				PromptTemplate: p.PromptTemplate, Cost: p.Cost, Popularity: p.RecentUses}
		}
		c.Header("Cache-Control", "public, max-age=60")
		c.JSON(http.StatusOK, gin.H{"presets": out})
	}
}
