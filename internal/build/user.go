package build

import (
	"strconv"
	"strings"

	"berth/internal/errdefs"
)

// chownIDs reads --chown's USER[:GROUP], names looked up in the
// destination's /etc/passwd and /etc/group, as Docker does. A user
// without a group gets the user's primary group.
func chownIDs(root *fsRoot, spec string) (int, int, error) {
	user, group, hasGroup := strings.Cut(spec, ":")
	uid, gid := -1, -1
	if n, err := strconv.Atoi(user); err == nil {
		uid, gid = n, n
		if e := findEntry(root, "/etc/passwd", func(f []string) bool { return len(f) > 3 && f[2] == user }); e != nil {
			gid, _ = strconv.Atoi(e[3])
		}
	} else {
		e := findEntry(root, "/etc/passwd", func(f []string) bool { return len(f) > 3 && f[0] == user })
		if e == nil {
			return 0, 0, errdefs.Invalidf("--chown=%s: unable to find user %s: no matching entries in passwd file", spec, user)
		}
		uid, _ = strconv.Atoi(e[2])
		gid, _ = strconv.Atoi(e[3])
	}
	if hasGroup {
		if n, err := strconv.Atoi(group); err == nil {
			gid = n
		} else {
			e := findEntry(root, "/etc/group", func(f []string) bool { return len(f) > 2 && f[0] == group })
			if e == nil {
				return 0, 0, errdefs.Invalidf("--chown=%s: unable to find group %s: no matching entries in group file", spec, group)
			}
			gid, _ = strconv.Atoi(e[2])
		}
	}
	return uid, gid, nil
}

// findEntry returns the first line of a colon-separated database in
// the root that match accepts.
func findEntry(root *fsRoot, file string, match func([]string) bool) []string {
	b, err := root.readFile(file, 16<<20)
	if err != nil {
		return nil
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if match(f) {
			return f
		}
	}
	return nil
}
