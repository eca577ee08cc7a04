//go:build !linux

package pgtest

import "syscall"

// setParentDeathSignal does nothing where the kernel cannot signal a child when its parent
// dies: a test binary that dies without running Run's deferred stop leaves its server running.
func setParentDeathSignal(*syscall.SysProcAttr) {}
