package compose

import (
	"fmt"
	"testing"

	"berth/internal/engine"
	"berth/internal/volume"
)

func TestInheritVolumes(t *testing.T) {
	old := map[string]string{"/data": "old-data", "/db": "old-db", "/cache": "old-cache", "/gone": "old-gone"}
	o := engine.CreateOptions{Config: engine.Config{
		Binds: []engine.Bind{
			{Type: volume.TypeVolume, Destination: "/data/", Anonymous: true},
			{Type: volume.TypeVolume, Destination: "/db", Name: "proj_db"},
		},
		HostOptions: engine.HostOptions{Tmpfs: map[string]string{"/cache": ""}},
	}}
	image := map[string]struct{}{"/db": {}, "/cache": {}, "/logs": {}, "/gone/": {}}
	inheritVolumes(&o, image, old)
	got := fmt.Sprint(o.Config.Binds)
	want := fmt.Sprint([]engine.Bind{
		{Type: volume.TypeVolume, Destination: "/data/", Name: "old-data", Anonymous: true},
		{Type: volume.TypeVolume, Destination: "/db", Name: "proj_db"},
		{Type: volume.TypeVolume, Destination: "/gone", Name: "old-gone", Anonymous: true},
	})
	if got != want {
		t.Errorf("inheritVolumes:\n%s\nwant\n%s", got, want)
	}
}
