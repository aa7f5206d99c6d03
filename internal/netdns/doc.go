// Package netdns is the resolver of berth's user-defined networks, which
// lets containers on one network find each other by name, as Docker's
// embedded DNS server does.
//
// Each network has its own server, listening on UDP and TCP port 53 at
// the network's gateway address, and containers use it as their
// nameserver. It answers A and AAAA queries for the names and aliases of
// the network's containers (with TTL 0, since containers come and go),
// PTR queries for their addresses, and forwards every other query to the
// upstream servers, as Docker does: over UDP, again over TCP when the
// answer was truncated, SERVFAIL when none answers. A server whose
// records name the network's subnets answers only queries from inside
// them, so one network cannot read another's names through its gateway.
// A container on several networks gets the names of all of them from the
// one resolver it asks (see peers).
//
// The engine describes the network in records.json in the network's
// directory, written with WriteRecords; the server stats that file on
// each query and reads it again when it changed, so a container resolves
// as soon as it is recorded, and exits when the file is removed.
//
// berth has no daemon, so the server is a process of its own, berth
// __dns NETWORK_DIR ADDR, which EnsureRunning starts in a session of its
// own and Stop ends. The server holds a lock on dns.pid for as long as it
// runs: that lock, not the pid, tells a live server from a stale pid
// file after kill -9 or a reboot. dns.lock serializes the callers, so
// that two EnsureRunning calls at once start one server. The server
// reports on a pipe once it serves, so EnsureRunning returns only when
// queries work, or with the reason it cannot. EnsureRunning binds the
// server's sockets itself and hands them over, so that the server runs
// with no capability at all (see startUnprivileged).
package netdns
