package redistest

import "github.com/cantondex/platform/services/localca"

// TLSFiles are the PEM files of a test certificate authority and of a server certificate it
// signed for 127.0.0.1 and localhost.
type TLSFiles = localca.Files

// WriteTLSFiles writes a fresh CA and server certificate into dir, their file names starting
// with name.
func WriteTLSFiles(dir, name string) (*TLSFiles, error) { return localca.Write(dir, name) }
