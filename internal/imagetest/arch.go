package imagetest

import "runtime"

func hostArch() string { return runtime.GOARCH }
