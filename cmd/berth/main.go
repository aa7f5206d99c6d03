// Command berth is the container engine's one binary. Run as a
// container's init it becomes that container's process; otherwise it is
// the command line, or, invoked as berth-runc, an OCI runtime like runc.
package main

import (
	"os"
	"runtime"

	"berth/internal/cli"
	"berth/internal/container"
)

// The init creates namespaces with unshare(2), which acts on the calling
// thread; locking here keeps main on the thread the process started with.
func init() { runtime.LockOSThread() }

func main() {
	if container.IsInit() {
		container.InitMain()
	}
	runtime.UnlockOSThread()
	os.Exit(cli.Main(os.Args, os.Stdout, os.Stderr))
}
