package pgtest

import "syscall"

// setParentDeathSignal has the kernel send the server SIGQUIT (immediate shutdown) when the
// test binary dies without running Run's deferred stop: a test timeout, a panic in a test's
// goroutine, a kill. Only the data directory is then left behind.
//
// The signal is tied to the thread that started the server, which the Go runtime ends only
// when a goroutine locked to it exits, a thing the tests of this project do not do.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGQUIT }
