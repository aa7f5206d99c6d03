package rootfs

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMountOptions(t *testing.T) {
	const atime = unix.MOUNT_ATTR__ATIME
	tests := []struct {
		name    string
		typ     string
		options []string
		want    mountConfig
		wantErr string
	}{
		{name: "proc no options", typ: "proc", want: mountConfig{}},
		{
			name:    "tmpfs data passes through in order",
			typ:     "tmpfs",
			options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"},
			want:    mountConfig{flags: unix.MS_NOSUID | unix.MS_STRICTATIME, data: "mode=755,size=65536k"},
		},
		{
			name:    "devpts",
			typ:     "devpts",
			options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"},
			want:    mountConfig{flags: unix.MS_NOSUID | unix.MS_NOEXEC, data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		},
		{
			name:    "sysfs read-only",
			typ:     "sysfs",
			options: []string{"nosuid", "noexec", "nodev", "ro"},
			want:    mountConfig{flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RDONLY},
		},
		{
			name:    "rbind with type none",
			typ:     "none",
			options: []string{"rbind", "ro"},
			want:    mountConfig{flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, bind: true},
		},
		{
			name:    "bind option with empty type",
			options: []string{"bind"},
			want:    mountConfig{flags: unix.MS_BIND, bind: true},
		},
		{
			name: "type bind without option",
			typ:  "bind",
			want: mountConfig{flags: unix.MS_BIND, bind: true},
		},
		{name: "type none without bind", typ: "none", wantErr: "needs the bind or rbind option"},
		{name: "empty type without bind", options: []string{"ro"}, wantErr: "needs the bind or rbind option"},
		{
			name:    "later clear wins and is recorded",
			typ:     "bind",
			options: []string{"ro", "nosuid", "rw", "suid", "nodev", "dev", "noexec", "exec"},
			want: mountConfig{
				flags:   unix.MS_BIND,
				cleared: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC,
				bind:    true,
			},
		},
		{
			name:    "set after clear forgets the clear",
			typ:     "bind",
			options: []string{"rw", "ro"},
			want:    mountConfig{flags: unix.MS_BIND | unix.MS_RDONLY, bind: true},
		},
		{
			name:    "sync async dirsync mand",
			typ:     "ext4",
			options: []string{"sync", "async", "dirsync", "mand", "nomand", "mand"},
			want: mountConfig{
				flags:   unix.MS_DIRSYNC | unix.MS_MANDLOCK,
				cleared: unix.MS_SYNCHRONOUS,
			},
		},
		{
			name:    "atime modes are exclusive, last wins",
			typ:     "tmpfs",
			options: []string{"noatime", "relatime", "strictatime"},
			want:    mountConfig{flags: unix.MS_STRICTATIME},
		},
		{
			name:    "atime and diratime clear",
			typ:     "tmpfs",
			options: []string{"noatime", "atime", "nodiratime", "diratime", "relatime", "norelatime", "nostrictatime"},
			want: mountConfig{
				cleared: unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME,
			},
		},
		{
			name:    "remount",
			typ:     "bind",
			options: []string{"remount", "ro"},
			want:    mountConfig{flags: unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY, bind: true},
		},
		{
			name:    "remount without type",
			options: []string{"remount", "ro"},
			want:    mountConfig{flags: unix.MS_REMOUNT | unix.MS_RDONLY},
		},
		{
			name:    "propagation in order",
			typ:     "bind",
			options: []string{"rprivate", "shared", "rslave", "slave", "private", "rshared", "unbindable", "runbindable"},
			want: mountConfig{
				flags: unix.MS_BIND,
				bind:  true,
				propagation: []uintptr{
					unix.MS_PRIVATE | unix.MS_REC, unix.MS_SHARED, unix.MS_SLAVE | unix.MS_REC, unix.MS_SLAVE,
					unix.MS_PRIVATE, unix.MS_SHARED | unix.MS_REC, unix.MS_UNBINDABLE, unix.MS_UNBINDABLE | unix.MS_REC,
				},
			},
		},
		{
			name:    "recursive attributes",
			typ:     "bind",
			options: []string{"rbind", "rro", "rnosuid", "rnodev", "rnoexec", "rnodiratime", "rnosymfollow"},
			want: mountConfig{
				flags: unix.MS_BIND | unix.MS_REC,
				bind:  true,
				attrSet: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV |
					unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW,
			},
		},
		{
			name:    "recursive clears override sets",
			typ:     "bind",
			options: []string{"rro", "rrw", "rnosuid", "rsuid", "rdev", "rexec", "rdiratime", "rsymfollow"},
			want: mountConfig{
				flags: unix.MS_BIND,
				bind:  true,
				attrClr: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV |
					unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW,
			},
		},
		{
			name:    "recursive set after clear",
			typ:     "bind",
			options: []string{"rrw", "rro"},
			want:    mountConfig{flags: unix.MS_BIND, bind: true, attrSet: unix.MOUNT_ATTR_RDONLY},
		},
		{
			name:    "recursive noatime clears the whole atime field",
			typ:     "bind",
			options: []string{"rnoatime"},
			want:    mountConfig{flags: unix.MS_BIND, bind: true, attrSet: unix.MOUNT_ATTR_NOATIME, attrClr: atime},
		},
		{
			name:    "recursive atime modes, last wins",
			typ:     "bind",
			options: []string{"rnoatime", "rstrictatime"},
			want:    mountConfig{flags: unix.MS_BIND, bind: true, attrSet: unix.MOUNT_ATTR_STRICTATIME, attrClr: atime},
		},
		{
			name:    "ratime falls back to relatime",
			typ:     "bind",
			options: []string{"rnoatime", "ratime"},
			want:    mountConfig{flags: unix.MS_BIND, bind: true, attrClr: atime},
		},
		{name: "idmap refused", typ: "bind", options: []string{"idmap"}, wantErr: "idmapped mounts are not supported"},
		{name: "tmpcopyup refused", typ: "tmpfs", options: []string{"tmpcopyup"}, wantErr: "tmpcopyup is not supported"},
		{
			name:    "overlay data",
			typ:     "overlay",
			options: []string{"lowerdir=/a:/b", "upperdir=/u", "workdir=/w", "", "defaults"},
			want:    mountConfig{data: "lowerdir=/a:/b,upperdir=/u,workdir=/w"},
		},
		{
			name:    "misc flags",
			typ:     "ext4",
			options: []string{"acl", "iversion", "lazytime", "silent", "nosymfollow"},
			want:    mountConfig{flags: unix.MS_POSIXACL | unix.MS_I_VERSION | unix.MS_LAZYTIME | unix.MS_SILENT | unix.MS_NOSYMFOLLOW},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMountOptions(tt.typ, tt.options)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParsePropagation(t *testing.T) {
	def := uintptr(unix.MS_SLAVE | unix.MS_REC)
	for in, want := range map[string]uintptr{
		"":            def,
		"private":     unix.MS_PRIVATE,
		"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
		"shared":      unix.MS_SHARED,
		"rshared":     unix.MS_SHARED | unix.MS_REC,
		"slave":       unix.MS_SLAVE,
		"rslave":      unix.MS_SLAVE | unix.MS_REC,
		"unbindable":  unix.MS_UNBINDABLE,
		"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
	} {
		got, err := parsePropagation(in, def)
		if err != nil || got != want {
			t.Errorf("parsePropagation(%q) = %#x, %v; want %#x", in, got, err, want)
		}
	}
	if _, err := parsePropagation("rsomething", def); err == nil {
		t.Error("unknown propagation accepted")
	}
}

func TestStatfsFlags(t *testing.T) {
	st := unix.Statfs_t{Flags: unix.ST_RDONLY | unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC | unix.ST_RELATIME}
	want := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME)
	if got := statfsFlags(st); got != want {
		t.Errorf("statfsFlags = %#x, want %#x", got, want)
	}
}
