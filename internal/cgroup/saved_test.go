package cgroup

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestSaveRestore(t *testing.T) {
	hs := []hierarchy{
		{controllers: []string{"cpu", "cpuacct"}, mount: "/sys/fs/cgroup/cpu,cpuacct", root: "/"},
		{controllers: []string{"name=systemd"}, mount: "/sys/fs/cgroup/systemd", root: "/docker/x"},
		{mount: "/sys/fs/cgroup/unified", root: "/"},
	}
	m, err := newManager(Legacy, hs, "/berth/c1", "c1", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m.Save())
	if err != nil {
		t.Fatal(err)
	}
	var s Saved
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	r := Restore(&s)
	if r.Mode() != Legacy || !reflect.DeepEqual(r.Paths(), m.Paths()) || !reflect.DeepEqual(r.ProcPaths(), m.ProcPaths()) {
		t.Errorf("restored %v %v %v; want %v %v %v", r.Mode(), r.Paths(), r.ProcPaths(), m.Mode(), m.Paths(), m.ProcPaths())
	}
	if r.write == nil || r.attachDevices == nil {
		t.Error("the restored manager cannot write")
	}
}
