package network

import (
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"

	"berth/internal/testfixture"
)

// TestInstallSweepsManyOrphans fills berth's table with the rules of 400
// networks whose bridges are gone, as on a host where many roots were
// thrown away, and installs one network's rules: the sweep of the others
// is one batch with an answer for each rule, which must not overflow the
// connection's buffer (ENOBUFS), and it leaves the new network's alone.
// It runs in a network namespace of its own, with a table of its own.
func TestInstallSweepsManyOrphans(t *testing.T) {
	inOwnNetns(t)
	c, err := NftConn()
	if err != nil {
		t.Fatal(err)
	}
	tb := c.AddTable(table())
	fwd, post := chains(tb)
	c.AddChain(fwd)
	c.AddChain(post)
	for i := 0; i < 400; i++ {
		c.AddRule(&nftables.Rule{Table: tb, Chain: fwd,
			Exprs:    append(ifname(expr.MetaKeyOIFNAME, fmt.Sprintf("berthgone%03d", i), true), verdict(expr.VerdictDrop)),
			UserData: userdata.AppendString(nil, userdata.TypeComment, RuleTag(fmt.Sprintf("gone%d", i)))})
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("adding the orphans: %v", err)
	}
	r := Rules{ID: "new", Bridge: "berthnew0", Subnets: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24")}}
	if err := installNft(r); err != nil {
		t.Fatalf("install beside 400 networks' orphaned rules: %v", err)
	}
	rules, err := c.GetRules(tb, fwd)
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range rules {
		if s, _ := userdata.GetString(rule.UserData, userdata.TypeComment); strings.HasPrefix(s, RuleTag("gone")) {
			t.Fatalf("an orphan is left: %q", s)
		}
	}
	if len(rules) == 0 {
		t.Error("the new network's rules are missing")
	}
}

// inOwnNetns moves the test's goroutine, for good, into a network
// namespace of its own, so that what the test makes touches no other.
func inOwnNetns(t *testing.T) {
	t.Helper()
	testfixture.RequireRoot(t)
	runtime.LockOSThread() // never unlocked: the thread ends with the test
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Skipf("needs a network namespace of its own: %v", err)
	}
}
