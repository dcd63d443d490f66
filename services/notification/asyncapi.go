package notification

import (
	_ "embed"
	"net/http"
)

// AsyncAPI is the streams' AsyncAPI 3.0 document.
//
//go:embed asyncapi.json
var AsyncAPI []byte

// ServeAsyncAPI serves AsyncAPI.
func ServeAsyncAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(AsyncAPI)
}
