package rootfs

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// mountConfig is what one spec mount's type and options mean to the
// kernel: flags for mount(2), propagation changes applied afterwards,
// attributes for mount_setattr(2) applied recursively, and the data
// string handed to the filesystem.
type mountConfig struct {
	flags       uintptr   // MS_* flags for mount(2)
	cleared     uintptr   // MS_* flags the options explicitly turned off (rw, suid, dev...)
	propagation []uintptr // MS_SHARED, MS_SLAVE|MS_REC...; each is a separate mount(2) call
	attrSet     uint64    // MOUNT_ATTR_* to set on the whole mount tree
	attrClr     uint64    // MOUNT_ATTR_* to clear on the whole mount tree
	data        string    // filesystem options: size=, mode=, lowerdir=...
	bind        bool      // a bind mount (MS_BIND set)
}

// recursive reports whether the options asked for mount_setattr(2).
func (c mountConfig) recursive() bool { return c.attrSet != 0 || c.attrClr != 0 }

// atimeFlags are the mutually exclusive access-time modes of mount(2).
const atimeFlags = unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

// bindRemountFlags are the per-mount flags a bind mount only takes on a
// second, MS_REMOUNT|MS_BIND pass.
const bindRemountFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
	unix.MS_NODIRATIME | unix.MS_NOSYMFOLLOW | atimeFlags

type flagOption struct {
	clear bool
	flag  uintptr
}

// mountFlagOptions are the options mount(8) turns into mount(2) flags.
var mountFlagOptions = map[string]flagOption{
	"acl":           {false, unix.MS_POSIXACL},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noacl":         {true, unix.MS_POSIXACL},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// propagationOptions map propagation options to the mount(2) flags that
// apply them. They are also the values rootfsPropagation may take.
var propagationOptions = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

type attrOption struct {
	set, clr uint64
}

// recursiveAttrOptions are runc's "r" options, applied to a mount and all
// mounts below it with mount_setattr(2). An access-time mode has to clear
// the whole MOUNT_ATTR__ATIME field to set one value in it, so each atime
// option names the mode it leaves behind: ratime, rnorelatime and
// rnostrictatime fall back to relatime, the kernel's default.
var recursiveAttrOptions = map[string]attrOption{
	"rro":            {set: unix.MOUNT_ATTR_RDONLY},
	"rrw":            {clr: unix.MOUNT_ATTR_RDONLY},
	"rnosuid":        {set: unix.MOUNT_ATTR_NOSUID},
	"rsuid":          {clr: unix.MOUNT_ATTR_NOSUID},
	"rnodev":         {set: unix.MOUNT_ATTR_NODEV},
	"rdev":           {clr: unix.MOUNT_ATTR_NODEV},
	"rnoexec":        {set: unix.MOUNT_ATTR_NOEXEC},
	"rexec":          {clr: unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":    {set: unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":      {clr: unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow":   {set: unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":     {clr: unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rnoatime":       {set: unix.MOUNT_ATTR_NOATIME, clr: unix.MOUNT_ATTR__ATIME},
	"rstrictatime":   {set: unix.MOUNT_ATTR_STRICTATIME, clr: unix.MOUNT_ATTR__ATIME},
	"rrelatime":      {set: unix.MOUNT_ATTR_RELATIME, clr: unix.MOUNT_ATTR__ATIME},
	"ratime":         {set: unix.MOUNT_ATTR_RELATIME, clr: unix.MOUNT_ATTR__ATIME},
	"rnorelatime":    {set: unix.MOUNT_ATTR_RELATIME, clr: unix.MOUNT_ATTR__ATIME},
	"rnostrictatime": {set: unix.MOUNT_ATTR_RELATIME, clr: unix.MOUNT_ATTR__ATIME},
}

// unsupportedOptions are options other runtimes accept that berth does not
// implement. Passing them on as filesystem data would fail later with a
// confusing error, so they are refused up front.
var unsupportedOptions = map[string]string{
	"idmap":     "idmapped mounts are not supported",
	"ridmap":    "idmapped mounts are not supported",
	"tmpcopyup": "tmpcopyup is not supported",
}

// parseMountOptions turns a spec mount's type and options into a
// mountConfig. Options it does not know are filesystem data and are passed
// through in order. A later option overrides an earlier one it conflicts
// with, as with mount(8).
func parseMountOptions(typ string, options []string) (mountConfig, error) {
	var c mountConfig
	var data []string
	for _, o := range options {
		if f, ok := mountFlagOptions[o]; ok {
			if f.clear {
				c.flags &^= f.flag
				c.cleared |= f.flag
				continue
			}
			if f.flag&atimeFlags != 0 {
				c.flags &^= atimeFlags
			}
			c.flags |= f.flag
			c.cleared &^= f.flag
			continue
		}
		if p, ok := propagationOptions[o]; ok {
			c.propagation = append(c.propagation, p)
			continue
		}
		if a, ok := recursiveAttrOptions[o]; ok {
			c.attrSet = c.attrSet&^a.clr&^a.set | a.set
			c.attrClr = c.attrClr&^a.set | a.clr
			continue
		}
		if why, ok := unsupportedOptions[o]; ok {
			return mountConfig{}, fmt.Errorf("option %q: %s", o, why)
		}
		if o == "" {
			continue
		}
		data = append(data, o)
	}
	c.data = strings.Join(data, ",")
	if typ == "bind" {
		c.flags |= unix.MS_BIND
	}
	c.bind = c.flags&unix.MS_BIND != 0
	if !c.bind && c.flags&unix.MS_REMOUNT == 0 && (typ == "" || typ == "none") {
		return mountConfig{}, fmt.Errorf("mount type %q needs the bind or rbind option", typ)
	}
	return c, nil
}

// parsePropagation returns the mount(2) flags for a rootfsPropagation
// value. The empty string means the default, given as def.
func parsePropagation(s string, def uintptr) (uintptr, error) {
	if s == "" {
		return def, nil
	}
	p, ok := propagationOptions[s]
	if !ok {
		return 0, fmt.Errorf("unknown rootfs propagation %q", s)
	}
	return p, nil
}
