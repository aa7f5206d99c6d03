package cli

import "github.com/spf13/cobra"

// givenInt is v when the user gave the flag name and nil when it keeps
// its default, for options where "not given" means something of its
// own (a stop timeout then is the container's).
func givenInt(cmd *cobra.Command, name string, v *int) *int {
	if cmd.Flags().Changed(name) {
		return v
	}
	return nil
}
