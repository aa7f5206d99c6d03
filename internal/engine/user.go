package engine

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/errdefs"
)

// openInRoot opens path inside root without leaving it: symlinks in an
// image resolve inside the image, never on the host.
func openInRoot(root, path string) (*os.File, error) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, path, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// resolveUser turns -u's value (name, uid, uid:gid, name:group) into ids
// with the image's /etc/passwd and /etc/group, as Docker does. A numeric
// user is never looked up as a name; a name that the image does not know
// is an error.
func resolveUser(rootfs, spec string) (specs.User, error) {
	u := specs.User{}
	if spec == "" {
		spec = "0"
	}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	passwd := readDB(rootfs, "/etc/passwd")
	var name string
	if uid, err := strconv.ParseUint(userPart, 10, 32); err == nil {
		u.UID = uint32(uid)
		for _, e := range passwd {
			if e[2] == userPart {
				name = e[0]
				if gid, err := strconv.ParseUint(e[3], 10, 32); err == nil {
					u.GID = uint32(gid)
				}
				break
			}
		}
	} else {
		found := false
		for _, e := range passwd {
			if e[0] == userPart {
				uid, err1 := strconv.ParseUint(e[2], 10, 32)
				gid, err2 := strconv.ParseUint(e[3], 10, 32)
				if err1 != nil || err2 != nil {
					return u, errdefs.Invalidf("user %q: bad entry in the image's /etc/passwd", userPart)
				}
				u.UID, u.GID, name, found = uint32(uid), uint32(gid), userPart, true
				break
			}
		}
		if !found {
			return u, errdefs.Invalidf("unable to find user %s: no matching entries in passwd file", userPart)
		}
	}
	groups := readDB(rootfs, "/etc/group")
	if hasGroup {
		if gid, err := strconv.ParseUint(groupPart, 10, 32); err == nil {
			u.GID = uint32(gid)
		} else {
			found := false
			for _, g := range groups {
				if g[0] == groupPart && len(g) > 2 {
					if gid, err := strconv.ParseUint(g[2], 10, 32); err == nil {
						u.GID, found = uint32(gid), true
					}
					break
				}
			}
			if !found {
				return u, errdefs.Invalidf("unable to find group %s: no matching entries in group file", groupPart)
			}
		}
	}
	if name != "" {
		for _, g := range groups {
			if len(g) < 4 {
				continue
			}
			for _, m := range strings.Split(g[3], ",") {
				if m == name {
					if gid, err := strconv.ParseUint(g[2], 10, 32); err == nil && uint32(gid) != u.GID {
						u.AdditionalGids = append(u.AdditionalGids, uint32(gid))
					}
				}
			}
		}
	}
	return u, nil
}

// readDB reads a colon-separated database (passwd, group) of the image;
// a missing one reads as empty, and it is read to at most 1 MiB.
func readDB(rootfs, path string) [][]string {
	f, err := openInRoot(rootfs, path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) >= 4 {
			out = append(out, fields)
		} else if len(fields) == 3 {
			out = append(out, append(fields, ""))
		}
	}
	return out
}
