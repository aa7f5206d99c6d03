package engine

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func memResources(limit, swap int64) *specs.LinuxResources {
	return &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &swap}}
}

// Docker's rules for memory and memory+swap in an update.
func TestMergeUpdateMemory(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name                    string
		cur                     *specs.LinuxResources
		opts                    UpdateOptions
		wantLimit, wantSwap     int64
		wantErr                 string
		wantStepLimit, stepSwap int64
	}{
		{name: "no limit before: swap is twice, as run gives it", opts: UpdateOptions{Memory: 64 * mib},
			wantLimit: 64 * mib, wantSwap: 128 * mib, wantStepLimit: 64 * mib, stepSwap: 128 * mib},
		{name: "within the swap limit", cur: memResources(64*mib, 128*mib), opts: UpdateOptions{Memory: 100 * mib},
			wantLimit: 100 * mib, wantSwap: 128 * mib, wantStepLimit: 100 * mib, stepSwap: 128 * mib},
		{name: "above the swap limit", cur: memResources(64*mib, 128*mib), opts: UpdateOptions{Memory: 200 * mib},
			wantErr: "set --memory-swap too"},
		{name: "unlimited swap stays", cur: memResources(64*mib, -1), opts: UpdateOptions{Memory: 200 * mib},
			wantLimit: 200 * mib, wantSwap: -1, wantStepLimit: 200 * mib, stepSwap: -1},
		{name: "both", cur: memResources(64*mib, 128*mib), opts: UpdateOptions{Memory: 200 * mib, MemorySwap: 300 * mib},
			wantLimit: 200 * mib, wantSwap: 300 * mib, wantStepLimit: 200 * mib, stepSwap: 300 * mib},
		{name: "swap alone", cur: memResources(64*mib, 128*mib), opts: UpdateOptions{MemorySwap: 64 * mib},
			wantLimit: 64 * mib, wantSwap: 64 * mib, wantStepLimit: 64 * mib, stepSwap: 64 * mib},
		{name: "swap without memory", opts: UpdateOptions{MemorySwap: 64 * mib}, wantErr: "--memory-swap needs --memory"},
		{name: "swap below memory", opts: UpdateOptions{Memory: 64 * mib, MemorySwap: 32 * mib}, wantErr: "below the memory limit"},
		{name: "too small", opts: UpdateOptions{Memory: 5 * mib}, wantErr: "the minimum is 6MiB"},
		{name: "reservation above limit", cur: memResources(64*mib, 128*mib), opts: UpdateOptions{MemoryReservation: 100 * mib},
			wantErr: "above the memory limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, mem, rest, err := mergeUpdate(tc.cur, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rest != nil {
				t.Errorf("a memory update changes more: %+v", rest)
			}
			m := next.Memory
			if *m.Limit != tc.wantLimit || *m.Swap != tc.wantSwap {
				t.Errorf("recorded %d/%d, want %d/%d", *m.Limit, *m.Swap, tc.wantLimit, tc.wantSwap)
			}
			if s := mem.Memory; *s.Limit != tc.wantStepLimit || *s.Swap != tc.stepSwap {
				t.Errorf("applied %d/%d, want %d/%d", *s.Limit, *s.Swap, tc.wantStepLimit, tc.stepSwap)
			}
		})
	}
}

// The record is changed field by field; what the update leaves alone stays.
func TestMergeUpdateKeeps(t *testing.T) {
	shares, period, quota := uint64(512), uint64(100000), int64(50000)
	limit := int64(100)
	cur := memResources(64<<20, 128<<20)
	cur.CPU = &specs.LinuxCPU{Shares: &shares, Period: &period, Quota: &quota, Cpus: "0"}
	cur.Pids = &specs.LinuxPids{Limit: &limit}
	next, mem, rest, err := mergeUpdate(cur, UpdateOptions{PidsLimit: -1, NanoCPUs: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	if mem != nil || rest == nil || rest.Memory != nil || rest.CPU.Shares != nil || rest.CPU.Cpus != "" {
		t.Errorf("steps: memory %+v, rest %+v", mem, rest)
	}
	if *next.Pids.Limit != -1 || *next.CPU.Quota != 100000 || *next.CPU.Shares != 512 || next.CPU.Cpus != "0" || *next.Memory.Limit != 64<<20 {
		t.Errorf("merged: %+v %+v %+v", next.Pids, next.CPU, next.Memory)
	}
	if *cur.Pids.Limit != 100 || *cur.CPU.Quota != 50000 {
		t.Error("the update changed the resources it was given")
	}
}

func TestMergeUpdateChecks(t *testing.T) {
	for _, tc := range []struct {
		opts UpdateOptions
		want string
	}{
		{UpdateOptions{NanoCPUs: 1e6}, "--cpus: range of CPUs is from 0.01"},
		{UpdateOptions{NanoCPUs: 1e15}, "--cpus: range of CPUs is from 0.01"},
		{UpdateOptions{CPUShares: 1}, "--cpu-shares 1"},
		{UpdateOptions{CpusetCpus: "0-x"}, "--cpuset-cpus \"0-x\""},
		{UpdateOptions{CpusetCpus: "100000"}, "is not available"},
		{UpdateOptions{PidsLimit: -2}, "--pids-limit -2"},
	} {
		if _, _, _, err := mergeUpdate(nil, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.opts, err, tc.want)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	got, err := parseCPUList("0-2,5")
	if err != nil || len(got) != 4 || !got[0] || !got[2] || !got[5] || got[3] {
		t.Errorf("0-2,5: %v, %v", got, err)
	}
	for _, bad := range []string{"", "a", "3-1", "1,", "-1"} {
		if _, err := parseCPUList(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
