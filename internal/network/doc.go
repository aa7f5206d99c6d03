// Package network gives containers their place on a network: address
// management (IPAM), network namespaces kept as files, Linux bridges and
// veth pairs made through netlink, and the packet filter rules (NAT,
// isolation) in berth's own nftables table.
//
// It holds no records: the engine keeps networks and endpoints in the
// metadata store and calls in here with what to build or tear down, so
// that the kernel objects and their records change in one place.
package network
