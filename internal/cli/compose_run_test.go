//go:build !lean

package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

func TestRunVolumes(t *testing.T) {
	cwd, _ := os.Getwd()
	have := []types.ServiceVolumeConfig{
		{Type: types.VolumeTypeVolume, Target: "/cache"},
		{Type: types.VolumeTypeVolume, Source: "data", Target: "/data"},
	}
	got, err := runVolumes(have, []string{"./src:/src:ro", "/host:/cache/", "named:/named", "/anon"})
	if err != nil {
		t.Fatal(err)
	}
	var desc []string
	for _, v := range got {
		desc = append(desc, fmt.Sprintf("%s %s %s %v", v.Type, v.Source, v.Target, v.ReadOnly))
	}
	want := []string{
		"volume data /data false",
		"bind " + filepath.Join(cwd, "src") + " /src true",
		"bind /host /cache/ false",
		"volume named /named false",
		"volume  /anon false",
	}
	if strings.Join(desc, "\n") != strings.Join(want, "\n") {
		t.Errorf("runVolumes:\n%s\nwant\n%s", strings.Join(desc, "\n"), strings.Join(want, "\n"))
	}
	for _, bad := range []string{"relative", "/a:/b:bogus", ""} {
		if _, err := runVolumes(nil, []string{bad}); err == nil || !strings.Contains(err.Error(), "--volume") {
			t.Errorf("runVolumes(%q) = %v, want an error naming --volume", bad, err)
		}
	}
}
