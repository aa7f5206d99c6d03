package network

import (
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
