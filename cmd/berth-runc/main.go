// Command berth-runc is berth's OCI runtime as a program of its own, a
// drop-in for runc under Docker, containerd or by hand. It is berth's
// runtime face alone, so it starts faster than berth whole; it is also
// the init it starts in each container, as berth is for its own.
package main

import (
	"os"
	"runtime"

	"berth/internal/container"
	"berth/internal/runcli"
)

// The init creates namespaces with unshare(2), which acts on the calling
// thread; locking here keeps main on the thread the process started with.
func init() { runtime.LockOSThread() }

func main() {
	if container.IsInit() {
		container.InitMain()
	}
	runtime.UnlockOSThread()
	os.Exit(runcli.Main(os.Args, os.Stdout, os.Stderr))
}
