package network

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/nftables"
	mdnetlink "github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nftReadBuffer is the receive buffer of berth's nftables connections.
// The kernel answers every message of a batch, and a batch that deletes
// the rules of many networks whose bridges are gone (a host where many
// roots were thrown away) gets more answers than the default buffer
// holds: the batch then fails with ENOBUFS.
const nftReadBuffer = 8 << 20

// NftConn opens a connection to nftables whose receive buffer holds the
// answers to a large batch. Where the buffer cannot grow, the default
// one serves.
func NftConn() (*nftables.Conn, error) {
	return nftables.New(nftables.WithSockOptions(func(c *mdnetlink.Conn) error {
		rc, err := c.SyscallConn()
		if err != nil {
			return nil
		}
		return rc.Control(func(fd uintptr) {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, nftReadBuffer) != nil {
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, nftReadBuffer)
			}
		})
	}))
}

// tableLock is where every berth process on the host, whatever its root,
// takes turns at changing berth's table: one that sweeps the rules of
// gone networks must not delete, between its listing and its batch, a
// rule that another is deleting or adding at the same moment (its batch
// would fail with ENOENT).
const tableLock = "/run/berth/nftables.lock"

// lockTable takes tableLock; the returned func releases it.
func lockTable() (func(), error) {
	if err := os.MkdirAll(filepath.Dir(tableLock), 0o700); err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	f, err := os.OpenFile(tableLock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("nftables: lock %s: %w", tableLock, err)
	}
	return func() { f.Close() }, nil
}
