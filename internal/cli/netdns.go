package cli

import (
	"github.com/spf13/cobra"

	"berth/internal/netdns"
)

// newDNSServerCommand is the hidden command that a network's resolver
// runs as: berth __dns NETWORK_DIR ADDR (see netdns.EnsureRunning).
func newDNSServerCommand() *cobra.Command {
	return &cobra.Command{
		Use: netdns.Command + " NETWORK_DIR ADDR", Hidden: true, Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return netdns.ServerMain(args[0], args[1])
		},
	}
}
