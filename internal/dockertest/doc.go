// Package dockertest holds integration tests that run berth-runc under a
// real Docker engine, so that berth's runc-compatible face is checked
// against the caller it exists for rather than against our reading of
// runc's documentation.
//
// The tests start a private containerd and dockerd in a temp dir, with
// their own sockets, state, containerd namespace and cgroup parent, so
// that a Docker already running on the host is neither used nor
// disturbed. They import a busybox image made from
// testfixture.BusyboxRootfs, since no registry can be reached, register
// a freshly built berth-runc as the runtime "berth", and drive the docker
// client: run, exit codes, terminals, exec, top, pause, update, stop, OOM
// and removal, comparing with runc where Docker's own behaviour is the
// reference.
//
// They need root, BERTH_TEST_ROOT=1 and the docker.io package
// (scripts/setup.sh --docker installs it), and skip, saying why, without
// them or when dockerd cannot start:
//
//	BERTH_TEST_ROOT=1 go test -count=1 -v ./internal/dockertest/
package dockertest
