package redistest

import "syscall"

// dieWithParent makes a server the test starts die with the test binary, even when the test
// binary is killed before it can stop the server.
func dieWithParent() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
