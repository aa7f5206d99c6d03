package container

// The C constructor in nsenter.c runs before the Go runtime in every berth
// process; it does nothing unless berth started itself to join namespaces.

/*
#cgo CFLAGS: -Wall
*/
import "C"
