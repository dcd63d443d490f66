// Package asyncapi holds the AsyncAPI 3.0 document of the WebSocket streams, with no
// dependencies, so both the notification service and the REST API (beside /openapi.json)
// serve it.
package asyncapi

import (
	_ "embed"
	"net/http"
)

// Document is the streams' AsyncAPI 3.0 document.
//
//go:embed asyncapi.json
var Document []byte

// Serve writes Document.
func Serve(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(Document)
}
