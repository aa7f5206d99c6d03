package cgroup

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// access is a set of device permissions. The bit values are the kernel's
// BPF_DEVCG_ACC_* so that the v2 filter can use them directly.
type access uint8

const (
	accMknod access = 1 << iota
	accRead
	accWrite

	accAll = accRead | accWrite | accMknod
)

func (a access) String() string {
	var b strings.Builder
	if a&accRead != 0 {
		b.WriteByte('r')
	}
	if a&accWrite != 0 {
		b.WriteByte('w')
	}
	if a&accMknod != 0 {
		b.WriteByte('m')
	}
	return b.String()
}

func parseAccess(s string) (access, error) {
	if s == "" {
		return accAll, nil // the OCI default
	}
	var a access
	for _, c := range s {
		switch c {
		case 'r':
			a |= accRead
		case 'w':
			a |= accWrite
		case 'm':
			a |= accMknod
		default:
			return 0, fmt.Errorf("invalid device access %q", s)
		}
	}
	return a, nil
}

// wildcard stands for "any major" or "any minor".
const wildcard = -1

// deviceRule is a validated OCI device cgroup rule.
type deviceRule struct {
	allow        bool
	typ          byte // 'a', 'b' or 'c'
	major, minor int64
	acc          access
}

// resetsAll reports whether the rule matches every access to every device,
// which makes it the new default and hides every rule before it.
func (r deviceRule) resetsAll() bool {
	return r.typ == 'a' && r.major == wildcard && r.minor == wildcard && r.acc == accAll
}

// line formats the rule the way devices.allow and devices.deny take it.
func (r deviceRule) line() string {
	num := func(v int64) string {
		if v == wildcard {
			return "*"
		}
		return strconv.FormatInt(v, 10)
	}
	return fmt.Sprintf("%c %s:%s %s", r.typ, num(r.major), num(r.minor), r.acc)
}

// normalizeDeviceRules validates OCI device rules: type ""/"a" (all), "b"
// or "c"; a nil or -1 major/minor is a wildcard; empty access is "rwm".
func normalizeDeviceRules(in []specs.LinuxDeviceCgroup) ([]deviceRule, error) {
	out := make([]deviceRule, 0, len(in))
	for i, d := range in {
		r := deviceRule{allow: d.Allow, major: wildcard, minor: wildcard}
		switch d.Type {
		case "", "a":
			r.typ = 'a'
		case "b", "c":
			r.typ = d.Type[0]
		default:
			return nil, fmt.Errorf("device rule %d: invalid type %q", i, d.Type)
		}
		for _, n := range []struct {
			v   *int64
			dst *int64
			nm  string
		}{{d.Major, &r.major, "major"}, {d.Minor, &r.minor, "minor"}} {
			if n.v == nil {
				continue
			}
			if *n.v < wildcard || *n.v > math.MaxUint32 {
				return nil, fmt.Errorf("device rule %d: invalid %s %d", i, n.nm, *n.v)
			}
			*n.dst = *n.v
		}
		var err error
		if r.acc, err = parseAccess(d.Access); err != nil {
			return nil, fmt.Errorf("device rule %d: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// devKey names one exception of the v1 devices controller.
type devKey struct {
	typ          byte
	major, minor int64
}

func (k devKey) rule(acc access) deviceRule {
	return deviceRule{typ: k.typ, major: k.major, minor: k.minor, acc: acc}
}

// devState models the kernel's v1 devices controller: a default behavior
// and a list of exceptions to it. It lets Set compute the writes that move
// a cgroup from its current state to the wanted one.
type devState struct {
	allowAll bool
	exc      map[devKey]access
	order    []devKey // first-insertion order of exc keys
}

func newDevState(allowAll bool) *devState {
	return &devState{allowAll: allowAll, exc: map[devKey]access{}}
}

// apply changes the state as the OCI semantics of one more rule demand:
// the last rule that matches a device decides for the access bits it
// names. Granting or revoking a device pattern also covers the more
// specific patterns below it ("c 1:*" covers "c 1:3"). Revoking access
// that a broader or crossing exception would still grant ("c 1:3" under
// "c *:*", or "c 1:*" against "c *:3") cannot be expressed as a list of
// exceptions, neither by the v1 kernel nor by this model, and is refused.
// A rule of type 'a' that is not a full reset is applied to both 'b' and
// 'c', because the kernel would read any "a" line as a full reset.
func (s *devState) apply(r deviceRule) error {
	if r.resetsAll() {
		*s = *newDevState(r.allow)
		return nil
	}
	if r.typ == 'a' {
		for _, t := range []byte{'b', 'c'} {
			rr := r
			rr.typ = t
			if err := s.apply(rr); err != nil {
				return err
			}
		}
		return nil
	}
	k := devKey{r.typ, r.major, r.minor}
	if r.allow != s.allowAll {
		if _, ok := s.exc[k]; !ok {
			s.order = append(s.order, k)
		}
		s.exc[k] |= r.acc
		return nil
	}
	keys := s.keys()
	for _, e := range keys {
		if !k.covers(e) && k.overlaps(e) && s.exc[e]&r.acc != 0 {
			return fmt.Errorf("device rule %q cannot be enforced: it would punch a hole in the earlier rule %q",
				r.line(), e.rule(s.exc[e]).line())
		}
	}
	for _, e := range keys {
		if !k.covers(e) {
			continue
		}
		if left := s.exc[e] &^ r.acc; left != 0 {
			s.exc[e] = left
		} else {
			delete(s.exc, e)
		}
	}
	return nil
}

// covers reports whether every device that e names is also named by k.
func (k devKey) covers(e devKey) bool {
	return k.typ == e.typ && (k.major == wildcard || k.major == e.major) && (k.minor == wildcard || k.minor == e.minor)
}

// overlaps reports whether some device is named by both k and e.
func (k devKey) overlaps(e devKey) bool {
	match := func(a, b int64) bool { return a == wildcard || b == wildcard || a == b }
	return k.typ == e.typ && match(k.major, e.major) && match(k.minor, e.minor)
}

// keys returns the current exception keys in insertion order.
func (s *devState) keys() []devKey {
	var out []devKey
	for _, k := range s.order {
		if _, ok := s.exc[k]; ok && !containsKey(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func containsKey(ks []devKey, k devKey) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// parseDevicesList reads a v1 devices.list. In allow-all mode the kernel
// prints only "a *:* rwm" and hides its exceptions, so a state read that
// way is treated as unknown by deviceTransition.
func parseDevicesList(s string) (*devState, error) {
	st := newDevState(false)
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 || len(f[0]) != 1 {
			return nil, fmt.Errorf("parse devices.list line %q", line)
		}
		if f[0] == "a" {
			st.allowAll = true
			continue
		}
		majS, minS, ok := strings.Cut(f[1], ":")
		if !ok {
			return nil, fmt.Errorf("parse devices.list line %q", line)
		}
		k := devKey{typ: f[0][0]}
		for _, n := range []struct {
			s   string
			dst *int64
		}{{majS, &k.major}, {minS, &k.minor}} {
			if n.s == "*" {
				*n.dst = wildcard
				continue
			}
			v, err := strconv.ParseInt(n.s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("parse devices.list line %q", line)
			}
			*n.dst = v
		}
		acc, err := parseAccess(f[2])
		if err != nil {
			return nil, fmt.Errorf("parse devices.list line %q: %w", line, err)
		}
		if _, ok := st.exc[k]; !ok {
			st.order = append(st.order, k)
		}
		st.exc[k] |= acc
	}
	return st, nil
}

// deviceWrite is one line for devices.allow or devices.deny.
type deviceWrite struct {
	file, line string
}

// deviceTransition returns the writes that take a v1 devices cgroup from
// cur (nil when unknown) to target. From an allow-all or unknown state it
// resets to the target's default first; between two deny-all states it
// only revokes and then grants the difference, so that a live update does
// not briefly cut the container off its devices.
func deviceTransition(cur, target *devState) []deviceWrite {
	var out []deviceWrite
	if target.allowAll {
		out = append(out, deviceWrite{"devices.allow", "a"})
		for _, k := range target.keys() {
			out = append(out, deviceWrite{"devices.deny", k.rule(target.exc[k]).line()})
		}
		return out
	}
	if cur == nil || cur.allowAll {
		out = append(out, deviceWrite{"devices.deny", "a"})
		for _, k := range target.keys() {
			out = append(out, deviceWrite{"devices.allow", k.rule(target.exc[k]).line()})
		}
		return out
	}
	for _, k := range cur.keys() {
		if rm := cur.exc[k] &^ target.exc[k]; rm != 0 {
			out = append(out, deviceWrite{"devices.deny", k.rule(rm).line()})
		}
	}
	for _, k := range target.keys() {
		if add := target.exc[k] &^ cur.exc[k]; add != 0 {
			out = append(out, deviceWrite{"devices.allow", k.rule(add).line()})
		}
	}
	return out
}

// v1DeviceWrites computes the devices.allow/devices.deny writes that make
// a cgroup whose devices.list reads current ("" when unknown) enforce the
// OCI rules on top of "deny everything".
func v1DeviceWrites(rules []specs.LinuxDeviceCgroup, current string) ([]deviceWrite, error) {
	norm, err := normalizeDeviceRules(rules)
	if err != nil {
		return nil, err
	}
	target := newDevState(false)
	for _, r := range norm {
		if err := target.apply(r); err != nil {
			return nil, err
		}
	}
	var cur *devState
	if current != "" {
		if cur, err = parseDevicesList(current); err != nil {
			cur = nil
		}
	}
	return deviceTransition(cur, target), nil
}
