package cgroup

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func dev(allow bool, typ string, major, minor int64, acc string) specs.LinuxDeviceCgroup {
	d := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: acc}
	if major != wildcard {
		d.Major = ptr(major)
	}
	if minor != wildcard {
		d.Minor = ptr(minor)
	}
	return d
}

func TestNormalizeDeviceRules(t *testing.T) {
	got, err := normalizeDeviceRules([]specs.LinuxDeviceCgroup{
		{Allow: false},
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](-1), Access: "mwr"},
		{Allow: true, Type: "b", Major: ptr[int64](8), Access: "r"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range got {
		lines = append(lines, fmt.Sprintf("%v %s", r.allow, r.line()))
	}
	equalLines(t, "rules", lines, []string{"false a *:* rwm", "true c 1:* rwm", "true b 8:* r"})
	if !got[0].resetsAll() || got[1].resetsAll() {
		t.Error("resetsAll wrong")
	}
	for _, bad := range []specs.LinuxDeviceCgroup{
		{Type: "u"}, {Type: "c", Access: "x"}, {Type: "c", Major: ptr[int64](-2)}, {Type: "c", Minor: ptr[int64](1 << 33)},
	} {
		if _, err := normalizeDeviceRules([]specs.LinuxDeviceCgroup{bad}); err == nil {
			t.Errorf("normalizeDeviceRules(%+v): want error", bad)
		}
	}
}

func TestV1DeviceWrites(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rules   []specs.LinuxDeviceCgroup
		current string
		want    []string
	}{
		{
			name: "default deny from allow-all",
			rules: []specs.LinuxDeviceCgroup{
				dev(false, "", -1, -1, "rwm"),
				dev(true, "c", -1, -1, "m"), dev(true, "b", -1, -1, "m"),
				dev(true, "c", 1, 3, "rwm"), dev(true, "c", 1, 5, "rwm"),
			},
			current: "a *:* rwm\n",
			want: []string{"devices.deny a", "devices.allow c *:* m", "devices.allow b *:* m",
				"devices.allow c 1:3 rwm", "devices.allow c 1:5 rwm"},
		},
		{
			name:  "unknown current state resets",
			rules: []specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "r")},
			want:  []string{"devices.deny a", "devices.allow c 1:3 r"},
		},
		{
			name:    "update between deny-all states changes only the difference",
			rules:   []specs.LinuxDeviceCgroup{dev(false, "a", -1, -1, ""), dev(true, "c", 1, 3, "rwm"), dev(true, "c", 1, 8, "r")},
			current: "c 1:3 rwm\nc 1:5 rwm\nc 1:8 w\n",
			want:    []string{"devices.deny c 1:5 rwm", "devices.deny c 1:8 w", "devices.allow c 1:8 r"},
		},
		{
			name:    "no change no writes",
			rules:   []specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "rwm")},
			current: "c 1:3 rwm\n",
		},
		{
			name:  "allow all with exceptions",
			rules: []specs.LinuxDeviceCgroup{dev(true, "", -1, -1, "rwm"), dev(false, "c", 10, 200, "rw")},
			want:  []string{"devices.allow a", "devices.deny c 10:200 rw"},
		},
		{
			name:  "type a that is not a reset is split",
			rules: []specs.LinuxDeviceCgroup{dev(true, "a", 7, -1, "r")},
			want:  []string{"devices.deny a", "devices.allow b 7:* r", "devices.allow c 7:* r"},
		},
		{
			name:  "access on one device adds up",
			rules: []specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "r"), dev(true, "c", 1, 3, "w")},
			want:  []string{"devices.deny a", "devices.allow c 1:3 rw"},
		},
		{
			name:  "later wildcard deny removes specific grants",
			rules: []specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "rw"), dev(true, "c", 4, 1, "rwm"), dev(false, "c", -1, -1, "w")},
			want:  []string{"devices.deny a", "devices.allow c 1:3 r", "devices.allow c 4:1 rm"},
		},
		{
			name:  "rules before a reset do not count",
			rules: []specs.LinuxDeviceCgroup{dev(true, "c", 1, 3, "rwm"), dev(false, "", -1, -1, "rwm"), dev(true, "c", 1, 5, "r")},
			want:  []string{"devices.deny a", "devices.allow c 1:5 r"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writes, err := v1DeviceWrites(tc.rules, tc.current)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range writes {
				got = append(got, w.file+" "+w.line)
			}
			equalLines(t, "writes", got, tc.want)
		})
	}
}

func TestDeviceHolePunchRefused(t *testing.T) {
	for _, rules := range [][]specs.LinuxDeviceCgroup{
		{dev(true, "c", -1, -1, "rwm"), dev(false, "c", 1, 3, "w")},
		{dev(true, "c", 1, -1, "r"), dev(false, "c", -1, 3, "r")},
		{dev(true, "", -1, -1, "rwm"), dev(false, "b", 8, -1, "rwm"), dev(true, "b", 8, 0, "r")},
	} {
		if _, err := v1DeviceWrites(rules, ""); err == nil || !strings.Contains(err.Error(), "punch a hole") {
			t.Errorf("v1DeviceWrites(%v) error = %v, want hole-punch error", rules, err)
		}
		if _, err := deviceFilter(rules); err == nil {
			t.Errorf("deviceFilter(%v): want error", rules)
		}
	}
}

func TestParseDevicesList(t *testing.T) {
	st, err := parseDevicesList("c 1:3 rwm\nb *:* m\nc 136:* rw\n")
	if err != nil {
		t.Fatal(err)
	}
	if st.allowAll || st.exc[devKey{'b', wildcard, wildcard}] != accMknod || st.exc[devKey{'c', 136, wildcard}] != accRead|accWrite {
		t.Errorf("parsed %+v", st)
	}
	if st, _ := parseDevicesList("a *:* rwm\n"); !st.allowAll {
		t.Error("a *:* rwm should parse as allow-all")
	}
	for _, bad := range []string{"c 1:3", "c 1-3 r", "c x:3 r", "c 1:3 q", "cc 1:3 r"} {
		if _, err := parseDevicesList(bad); err == nil {
			t.Errorf("parseDevicesList(%q): want error", bad)
		}
	}
}

// runFilter interprets the subset of eBPF that compileDevState emits, for
// a device access (type is BPF_DEVCG_DEV_*, acc BPF_DEVCG_ACC_* bits).
func runFilter(t *testing.T, insts asm.Instructions, typ, major, minor uint32, acc access) bool {
	t.Helper()
	syms := map[string]int{}
	for i, ins := range insts {
		if ins.Symbol() != "" {
			syms[ins.Symbol()] = i
		}
	}
	ctx := [3]uint32{uint32(acc)<<16 | typ, major, minor}
	var reg [11]uint64
	r1ctx := true
	for pc, steps := 0, 0; pc < len(insts); steps++ {
		if steps > len(insts) {
			t.Fatalf("program loops")
		}
		ins := insts[pc]
		op := ins.OpCode
		next := pc + 1
		switch op.Class() {
		case asm.LdXClass:
			if ins.Src != asm.R1 || !r1ctx || op.Size() != asm.Word || ins.Offset%4 != 0 || ins.Offset > 8 {
				t.Fatalf("pc %d: bad load %v", pc, ins)
			}
			reg[ins.Dst] = uint64(ctx[ins.Offset/4])
		case asm.ALU64Class, asm.ALUClass:
			if op.Class() == asm.ALU64Class {
				t.Fatalf("pc %d: unexpected 64-bit ALU %v", pc, ins)
			}
			src := uint32(ins.Constant)
			if op.Source() == asm.RegSource {
				src = uint32(reg[ins.Src])
			}
			dst := uint32(reg[ins.Dst])
			switch op.ALUOp() {
			case asm.Mov:
				dst = src
			case asm.And:
				dst &= src
			case asm.RSh:
				dst >>= src
			default:
				t.Fatalf("pc %d: unexpected ALU op %v", pc, ins)
			}
			reg[ins.Dst] = uint64(dst)
			if ins.Dst == asm.R1 {
				r1ctx = false
			}
		case asm.JumpClass:
			if op.JumpOp() == asm.Exit {
				return reg[asm.R0] != 0
			}
			src := uint64(ins.Constant)
			if op.Source() == asm.RegSource {
				src = reg[ins.Src]
			}
			var taken bool
			switch op.JumpOp() {
			case asm.JNE:
				taken = reg[ins.Dst] != src
			case asm.JEq:
				taken = reg[ins.Dst] == src
			default:
				t.Fatalf("pc %d: unexpected jump %v", pc, ins)
			}
			if taken {
				target, ok := syms[ins.Reference()]
				if !ok || target <= pc {
					t.Fatalf("pc %d: jump to unknown or earlier label %q", pc, ins.Reference())
				}
				next = target
			}
		default:
			t.Fatalf("pc %d: unexpected instruction %v", pc, ins)
		}
		pc = next
	}
	t.Fatal("fell off the end of the program")
	return false
}

// lastMatch is the OCI reference: for each requested bit the last rule
// that names the device and that bit decides; the default is deny.
func lastMatch(rules []deviceRule, typ byte, major, minor int64, bit access) bool {
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		if (r.typ == 'a' || r.typ == typ) && (r.major == wildcard || r.major == major) &&
			(r.minor == wildcard || r.minor == minor) && r.acc&bit != 0 {
			return r.allow
		}
	}
	return false
}

func TestDeviceFilterStructure(t *testing.T) {
	insts, err := deviceFilter([]specs.LinuxDeviceCgroup{dev(false, "", -1, -1, "rwm"), dev(true, "c", 1, 3, "rwm")})
	if err != nil {
		t.Fatal(err)
	}
	// 6 prologue loads/shifts, one block of type+major+minor checks and
	// mov+exit, and the default mov+exit.
	if len(insts) != 6+5+2 {
		t.Errorf("got %d instructions, want 13:\n%v", len(insts), insts)
	}
	if last := insts[len(insts)-2]; last.OpCode.ALUOp() != asm.Mov || last.Constant != 0 {
		t.Errorf("default should be deny, got %v", last)
	}
	// Marshalling resolves every jump label.
	var buf bytes.Buffer
	if err := insts.Marshal(&buf, binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	// Only a full reset: no blocks, just the default.
	insts, _ = deviceFilter([]specs.LinuxDeviceCgroup{dev(true, "a", -1, -1, "rwm")})
	if len(insts) != 8 || insts[6].Constant != 1 {
		t.Errorf("allow-all program:\n%v", insts)
	}
}

func TestDeviceFilterSemantics(t *testing.T) {
	fixed := [][]specs.LinuxDeviceCgroup{
		nil,
		{dev(true, "", -1, -1, "rwm")},
		{dev(false, "", -1, -1, "rwm"), dev(true, "c", 1, 3, "rwm"), dev(true, "c", 1, 5, "rw"), dev(true, "b", -1, -1, "m")},
		{dev(true, "", -1, -1, "rwm"), dev(false, "c", 1, -1, "w"), dev(false, "b", 8, 0, "rwm")},
		{dev(true, "c", 1, 3, "r"), dev(true, "c", 1, 3, "w"), dev(false, "c", 1, -1, "r")},
		{dev(true, "c", 1, 3, "rwm"), dev(true, "c", 1<<32-1, 3, "rwm")},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	majors := []int64{wildcard, 1, 2}
	minors := []int64{wildcard, 3, 4}
	types := []string{"a", "b", "c"}
	var random [][]specs.LinuxDeviceCgroup
	for range 400 {
		var rules []specs.LinuxDeviceCgroup
		for range rng.IntN(6) {
			acc := access(1 + rng.IntN(7)).String()
			rules = append(rules, dev(rng.IntN(2) == 0, types[rng.IntN(3)], majors[rng.IntN(3)], minors[rng.IntN(3)], acc))
		}
		random = append(random, rules)
	}
	checked := 0
	for _, rules := range append(fixed, random...) {
		insts, err := deviceFilter(rules)
		if err != nil {
			continue // a refused hole punch; covered elsewhere
		}
		checked++
		norm, _ := normalizeDeviceRules(rules)
		st := newDevState(false)
		for _, r := range norm {
			_ = st.apply(r)
		}
		for _, typ := range []byte{'b', 'c'} {
			bpfType := uint32(bpfDevChar)
			if typ == 'b' {
				bpfType = bpfDevBlock
			}
			for _, major := range []int64{1, 2, 9} {
				for _, minor := range []int64{3, 4, 9} {
					for req := access(1); req <= accAll; req++ {
						got := runFilter(t, insts, bpfType, uint32(major), uint32(minor), req)
						if req == accMknod || req == accRead || req == accWrite {
							if want := lastMatch(norm, typ, major, minor, req); got != want {
								t.Fatalf("rules %v: %c %d:%d %s = %v, OCI says %v\n%v", rules, typ, major, minor, req, got, want, insts)
							}
							continue
						}
						// Several bits at once: allowed only if every bit
						// is, and then as the v1 kernel decides.
						all := true
						for _, bit := range []access{accMknod, accRead, accWrite} {
							if req&bit != 0 && !lastMatch(norm, typ, major, minor, bit) {
								all = false
							}
						}
						if got && !all {
							t.Fatalf("rules %v: %c %d:%d %s allowed but a bit is denied", rules, typ, major, minor, req)
						}
						if want := v1Allows(st, typ, major, minor, req); got != want {
							t.Fatalf("rules %v: %c %d:%d %s = %v, v1 says %v", rules, typ, major, minor, req, got, want)
						}
					}
				}
			}
		}
	}
	if checked < 100 {
		t.Errorf("only %d rule sets were accepted; the generator is too hole-prone", checked)
	}
}

// v1Allows is the v1 kernel's check against a default and exceptions.
func v1Allows(st *devState, typ byte, major, minor int64, req access) bool {
	for k, acc := range st.exc {
		if !(devKey{typ, major, minor}).overlaps(k) || !k.covers(devKey{typ, major, minor}) {
			continue
		}
		if st.allowAll && acc&req != 0 {
			return false
		}
		if !st.allowAll && req&^acc == 0 {
			return true
		}
	}
	return st.allowAll
}
