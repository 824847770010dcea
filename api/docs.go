package api

import (
	_ "embed"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/goccy/go-yaml"
	swaggerfiles "github.com/swaggo/files/v2"
)

//go:embed openapi.yaml
var openapiYAML []byte

// OpenAPIYAML returns the API description this server serves, for tests that
// validate responses against it.
func OpenAPIYAML() []byte { return openapiYAML }

func openapiJSON() ([]byte, error) {
	b, err := yaml.YAMLToJSON(openapiYAML)
	if err != nil {
		return nil, fmt.Errorf("convert openapi.yaml to JSON: %w", err)
	}
	return b, nil
}

// docsPage renders Swagger UI from assets embedded in the binary, so /docs
// works with no network access.
const docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>LOKIZ API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script>
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
};
</script>
</body>
</html>
`

func (s *Server) mountDocs(r *gin.Engine) error {
	spec, err := openapiJSON()
	if err != nil {
		return err
	}
	r.GET("/openapi.json", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json", spec)
	})
	r.GET("/docs", func(c *gin.Context) {
		c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(docsPage))
	})
	assets, err := fs.Sub(swaggerfiles.FS, ".")
	if err != nil {
		return fmt.Errorf("swagger assets: %w", err)
	}
	r.StaticFS("/docs/assets", http.FS(assets))
	return nil
}
