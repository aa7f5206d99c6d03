package volume

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"berth/internal/errdefs"
)

func TestParseVolume(t *testing.T) {
	for in, want := range map[string]Mount{
		"/host:/ctr:ro,rshared": {Type: TypeBind, Source: "/host", Destination: "/ctr", ReadOnly: true, Propagation: "rshared", Create: true, Mode: "ro,rshared", Spec: "/host:/ctr:ro,rshared"},
		"/host/../h:/c/":        {Type: TypeBind, Source: "/h", Destination: "/c", Create: true, Spec: "/host/../h:/c/"},
		"data:/var/lib/data":    {Type: TypeVolume, Name: "data", Destination: "/var/lib/data", Mode: "z", Spec: "data:/var/lib/data"},
		"data:/d:ro,nocopy,U,z": {Type: TypeVolume, Name: "data", Destination: "/d", ReadOnly: true, NoCopy: true, Chown: true, Relabel: true, Mode: "ro,nocopy,U,z", Spec: "data:/d:ro,nocopy,U,z"},
		"/anon":                 {Type: TypeVolume, Destination: "/anon", Anonymous: true, Mode: "z"},
		"/h:/c:Z":               {Type: TypeBind, Source: "/h", Destination: "/c", Create: true, Relabel: true, Mode: "Z", Spec: "/h:/c:Z"},
	} {
		got, err := ParseVolume(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseVolume(%q) = %+v, %v, want %+v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"":               "invalid volume specification: ''",
		"/ctr:ro":        "invalid volume specification: '/ctr:ro'",
		"/host:ctr":      "invalid mount path: 'ctr' mount path must be absolute",
		"/host:/c:bad":   "invalid mode: bad",
		"/host:/c:ro,rw": "invalid mode: ro,rw",
		"a:b:c:d":        "invalid volume specification: 'a:b:c:d'",
		"v:/":            "destination can't be '/'",
		"x:/c":           "volume name is too short",
		"bad$name:/c":    "includes invalid characters for a local volume name",
		"/h:/c:nocopy":   "nocopy is for volumes",
		"vol:/c:rshared": "a propagation mode is for host paths",
	} {
		_, err := ParseVolume(in)
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseVolume(%q) = %v, want an invalid-argument error containing %q", in, err, msg)
		}
	}
}

func TestParseMount(t *testing.T) {
	dir := t.TempDir()
	for in, want := range map[string]Mount{
		"type=bind,source=" + dir + ",target=/x,readonly,bind-propagation=rslave": {Type: TypeBind, Source: dir, Destination: "/x", ReadOnly: true, Propagation: "rslave"},
		"type=volume,src=data,dst=/d,volume-nocopy,volume-label=a=b":              {Type: TypeVolume, Name: "data", Destination: "/d", NoCopy: true, Labels: map[string]string{"a": "b"}},
		"target=/anon": {Type: TypeVolume, Destination: "/anon", Anonymous: true},
		"type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1777": {Type: TypeTmpfs, Destination: "/t", TmpfsOptions: "mode=1777,size=67108864"},
		`"type=volume","src=data","dst=/d","readonly=false"`:       {Type: TypeVolume, Name: "data", Destination: "/d"},
	} {
		got, err := ParseMount(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseMount(%q) = %+v, %v, want %+v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"type=bind,source=/nope-nope,target=/x":         `invalid mount config for type "bind": bind source path does not exist: /nope-nope`,
		"type=bind,source=rel,target=/x":                "mount path must be absolute",
		"type=bind,target=/x":                           "field Source must not be empty",
		"type=tmpfs,target=rel":                         "invalid mount path: 'rel' mount path must be absolute",
		"source=v":                                      "target is required",
		"type=,target=/x":                               "type is required",
		"type=nfs,target=/x":                            "mount type unknown",
		"type=volume,target=/x,readonly":                "must not set ReadOnly mode when using anonymous volumes",
		"type=bind,src=/,target=/x,tmpfs-size=1":        "cannot mix 'tmpfs-*' options with mount type 'bind'",
		"type=tmpfs,target=/x,volume-nocopy":            "cannot mix 'volume-*' options with mount type 'tmpfs'",
		"type=volume,target=/x,bind-propagation=shared": "cannot mix 'bind-*' options with mount type 'volume'",
		"type=bind,src=/,target=/x,bind-propagation=up": "invalid propagation mode: up",
		"type=tmpfs,target=/x,tmpfs-mode=999":           "invalid value for tmpfs-mode: 999",
		"type=volume,target=/x,color=red":               "unexpected key 'color' in 'color=red'",
		"type=volume,target=/x,loud":                    "invalid field 'loud' must be a key=value pair",
		"type=tmpfs,src=x,target=/x":                    "field Source must not be specified",
		"type=volume,src=v,target=/":                    "destination can't be '/'",
	} {
		_, err := ParseMount(in)
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseMount(%q) = %v, want an invalid-argument error containing %q", in, err, msg)
		}
	}
	if _, err := ParseMount("type=volume,src=v,dst=/x,volume-driver=nfs"); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Errorf("volume-driver=nfs: %v, want unsupported", err)
	}
}

func TestParseVolumesFrom(t *testing.T) {
	for in, want := range map[string][2]string{"web": {"web", ""}, "web:ro": {"web", "ro"}, "web:rw,z": {"web", "rw"}} {
		id, mode, err := ParseVolumesFrom(in)
		if err != nil || id != want[0] || mode != want[1] {
			t.Errorf("ParseVolumesFrom(%q) = %q, %q, %v", in, id, mode, err)
		}
	}
	for _, bad := range []string{"", "web:rshared", "web:nocopy"} {
		if _, _, err := ParseVolumesFrom(bad); err == nil {
			t.Errorf("ParseVolumesFrom(%q) took it", bad)
		}
	}
}

func TestMountOptions(t *testing.T) {
	m := Mount{Type: TypeBind, Source: "/h", Destination: "/c", ReadOnly: true}
	if got := m.Options(); !reflect.DeepEqual(got, []string{"rbind", "rprivate", "ro", "rro"}) {
		t.Errorf("Options() = %v", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"/a:/b:ro", "v:/d", "/d", "type=bind,src=/,dst=/x", "type=tmpfs,dst=/t,tmpfs-size=1k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, parse := range []func(string) (Mount, error){ParseVolume, ParseMount} {
			m, err := parse(s)
			if err != nil {
				continue
			}
			if !strings.HasPrefix(m.Destination, "/") || m.CleanDest() == "/" {
				t.Errorf("%q: destination %q taken", s, m.Destination)
			}
			if m.Kind() == TypeVolume && m.Name != "" && ValidName(m.Name) != nil {
				t.Errorf("%q: volume name %q taken", s, m.Name)
			}
		}
	})
}
