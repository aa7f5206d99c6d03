package engine

import (
	"errors"

	"berth/internal/metadata"
)

// ReleaseNetworks takes down the bridges, nftables rules and name
// resolvers of every network under this root, for a root that is being
// thrown away, such as a test's: a bridge outlives the directory that
// named it otherwise. The records stay. Containers must be gone first.
func (e *Engine) ReleaseNetworks() error {
	var nets []*metadata.Network
	err := e.DB.View(func(tx *metadata.Tx) error {
		return tx.Networks(func(n *metadata.Network) error {
			if n.Driver == "bridge" {
				nets = append(nets, n)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range nets {
		errs = append(errs, e.bridgeDown(n))
	}
	return errors.Join(errs...)
}
