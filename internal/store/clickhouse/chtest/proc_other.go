//go:build !linux

package chtest

import "os/exec"

// dieWithParent: only Linux can tie a child's life to its parent; the
// cleanups stop the server elsewhere.
func dieWithParent(*exec.Cmd) {}
