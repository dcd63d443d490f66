package http

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cantondex/platform/services/notification/asyncapi"
)

// openAPI is the API's OpenAPI 3.1 description, written by hand next to the handlers.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPI)
}

// serveAsyncAPI serves the streams' AsyncAPI document beside this one.
func serveAsyncAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, asyncapi.Document)
}
