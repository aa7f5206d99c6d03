// Preparing a container's root filesystem without starting Go.
//
// Starting a container's init used to mean starting a second Go runtime
// and decoding the whole spec again, only to make a few dozen mounts. The
// parent now works out every mount, device and path as a create plan
// (rootfs.Plan, internal/rootfs/plan_linux.go, which documents the
// encoding and the steps) and writes it to a memfd named by
// _BERTH_CREATE_PLAN. The constructor carries it out here, then runs the
// process part, an exec plan (execplan.c). Specs the plan cannot express
// (user namespaces, hooks inside the container, terminals...) go through
// the Go init as before. No policy lives here, but every path the plan
// names is resolved inside the container's root when its step runs, with
// openat2(RESOLVE_IN_ROOT), and checked where it led, as internal/rootfs
// does.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "execplan.h"

#define CREATE_MAGIC 0x31504342u /* "BCP1" */

enum {
	OP_END,
	OP_MOUNT,
	OP_ROOT,
	OP_TARGET,
	OP_FINISH,
	OP_MKNOD,
	OP_SYMLINK,
	OP_JOIN_CGROUP,
	OP_WAIT_CGROUP,
	OP_PIVOT,
	OP_HOSTNAME,
	OP_WRITE,
	OP_READONLY,
	OP_MASK,
	OP_PROCFS,
};

enum { AT_HOST, AT_TARGET, AT_ROOT };
enum { TARGET_DIR, TARGET_FILE, TARGET_LIKE_SOURCE };

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
#ifndef RESOLVE_NO_MAGICLINKS
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_IN_ROOT 0x10
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

struct berth_open_how {
	uint64_t flags, mode, resolve;
};

struct berth_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

#define MAX_SYMLINKS 40

static int root_fd = -1;
static const char *root_path = "";
static int target_fd = -1;
static int use_fd = 1;
static int memory_fd = -1;
static const char **proc_ok;

/* failw fails with "what: detail: error", leaving out the empty parts. */
static void failw(const char *what, const char *detail, int err)
{
	char msg[4096];
	int n = snprintf(msg, sizeof msg, "%s", what);
	if (detail != NULL && n >= 0 && (size_t)n < sizeof msg)
		n += snprintf(msg + n, sizeof msg - (size_t)n, ": %s", detail);
	if (err != 0 && n >= 0 && (size_t)n < sizeof msg)
		snprintf(msg + n, sizeof msg - (size_t)n, ": %s", plan_errtext(err));
	plan_fail(msg, 0);
}

static const char *fd_path(int fd)
{
	static char buf[4][32];
	static int next;
	char *b = buf[next++ % 4];
	snprintf(b, 32, "/proc/self/fd/%d", fd);
	return b;
}

/* clean_path makes p an absolute, lexically clean path in out, as Go's
 * path.Clean("/" + p) does. It fails with ENAMETOOLONG rather than cut
 * a path that does not fit. */
static int clean_path(const char *p, char *out, size_t cap)
{
	size_t n = 0;
	out[n++] = '/';
	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* skip */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 1 && out[n - 1] != '/')
				n--;
			if (n > 1)
				n--;
		} else if (n + len + 1 < cap) {
			if (n > 1)
				out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		} else {
			errno = ENAMETOOLONG;
			return -1;
		}
		p = end;
	}
	out[n] = '\0';
	return 0;
}

static int create_at(const char *path, char *p, char *parent_path, mode_t mode, int dir, int hops);

/* in_root opens p inside the root; magic links are refused, so a procfs
 * in the root cannot lead to the host. */
static int in_root(const char *p, int flags)
{
	struct berth_open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	while (*p == '/')
		p++;
	if (*p == '\0')
		p = ".";
	for (int i = 0; i < 64; i++) {
		long fd = syscall(SYS_openat2, root_fd, p, &how, sizeof how);
		if (fd >= 0)
			return (int)fd;
		/* EAGAIN: a rename or mount raced with a ".." lookup. */
		if (errno != EAGAIN && errno != EINTR)
			return -1;
	}
	errno = EAGAIN;
	return -1;
}

/* create_in_root makes sure p exists in the root, its missing parents as
 * directories and p as a directory (dir) or an empty file, and returns an
 * O_PATH fd for it. A missing part that is a dangling symlink is followed,
 * and its target made, inside the root. As root.create in Go. It recurses
 * once per missing component and per symlink followed, so its buffers
 * are on the heap: a path of thousands of components must not overflow
 * the stack. */
static int create_in_root(const char *path, mode_t mode, int dir, int hops)
{
	char *p = malloc(2 * PATH_MAX);
	if (p == NULL) {
		errno = ENOMEM;
		return -1;
	}
	char *parent_path = p + PATH_MAX;
	int fd = create_at(path, p, parent_path, mode, dir, hops);
	int err = errno;
	free(p);
	errno = err;
	return fd;
}

static int create_at(const char *path, char *p, char *parent_path, mode_t mode, int dir, int hops)
{
	if (clean_path(path, p, PATH_MAX) < 0)
		return -1;
	int flags = O_PATH | (dir ? O_DIRECTORY : 0);
	int fd = in_root(p, flags);
	if (fd >= 0 || errno != ENOENT || strcmp(p, "/") == 0)
		return fd;
	char *slash = strrchr(p, '/');
	snprintf(parent_path, PATH_MAX, "%.*s", (int)(slash - p + 1), p);
	const char *name = slash + 1;
	int parent = create_in_root(parent_path, 0755, 1, hops);
	if (parent < 0)
		return -1;
	int r;
	if (dir) {
		r = mkdirat(parent, name, mode);
	} else {
		int f = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
		r = f < 0 ? -1 : close(f);
	}
	if (r < 0 && errno == EEXIST) {
		char *target = malloc(PATH_MAX), *next = malloc(2 * PATH_MAX);
		if (target == NULL || next == NULL) {
			free(target);
			free(next);
			close(parent);
			errno = ENOMEM;
			return -1;
		}
		ssize_t n = readlinkat(parent, name, target, PATH_MAX - 1);
		close(parent);
		if (n < 0 || hops >= MAX_SYMLINKS) {
			free(target);
			free(next);
			errno = n < 0 ? EEXIST : ELOOP;
			return -1;
		}
		target[n] = '\0';
		if (target[0] == '/')
			snprintf(next, 2 * PATH_MAX, "%s", target);
		else
			snprintf(next, 2 * PATH_MAX, "%s/%s", parent_path, target);
		fd = create_in_root(next, mode, dir, hops + 1);
		int err = errno;
		free(target);
		free(next);
		errno = err;
		return fd;
	}
	if (r < 0) {
		int err = errno;
		close(parent);
		errno = err;
		return -1;
	}
	fd = openat(parent, name, flags | O_NOFOLLOW | O_CLOEXEC);
	int err = errno;
	close(parent);
	errno = err;
	return fd;
}

/* resolved is the container path fd refers to now. */
static void resolved(int fd, char *out, size_t cap, const char *what)
{
	char target[4096];
	ssize_t n = readlink(fd_path(fd), target, sizeof target - 1);
	if (n < 0)
		failw(what, "create mount point", errno);
	target[n] = '\0';
	size_t rl = strlen(root_path);
	if (strcmp(root_path, "/") == 0) {
		snprintf(out, cap, "%s", target);
	} else if (strcmp(target, root_path) == 0) {
		snprintf(out, cap, "/");
	} else if (strncmp(target, root_path, rl) == 0 && target[rl] == '/') {
		snprintf(out, cap, "%s", target + rl);
	} else {
		char msg[4200];
		snprintf(msg, sizeof msg, "%s resolved outside the root to %s", fd_path(fd), target);
		failw(what, msg, 0);
	}
}

/* check_proc refuses mounts that land inside /proc unless they are
 * procfs or a file lxcfs emulates, as checkProcMount does. */
static void check_proc(const char *res, int is_proc, const char *src, const char *what)
{
	if (is_proc || (strcmp(res, "/proc") != 0 && strncmp(res, "/proc/", 6) != 0))
		return;
	if (strcmp(res, "/proc") == 0) {
		struct statfs st;
		if (src[0] != '\0' && statfs(src, &st) == 0 && st.f_type == PROC_SUPER_MAGIC)
			return;
		failw(what, "only procfs may be mounted on /proc", 0);
	}
	for (const char **v = proc_ok; *v; v++)
		if (strcmp(res, *v) == 0)
			return;
	char msg[4200];
	snprintf(msg, sizeof msg, "destination resolves to %s, inside /proc", res);
	failw(what, msg, 0);
}

static void op_target(struct cursor *c)
{
	uint32_t kind = plan_u32(c);
	const char *dest = plan_string(c), *src = plan_string(c);
	uint32_t is_proc = plan_u32(c);
	const char *what = plan_string(c);
	if (c->bad)
		return;
	if (target_fd >= 0)
		close(target_fd);
	int dir = kind == TARGET_DIR;
	if (kind == TARGET_LIKE_SOURCE) {
		struct stat st;
		if (stat(src, &st) < 0)
			failw(what, "stat source", errno);
		dir = S_ISDIR(st.st_mode);
	}
	target_fd = create_in_root(dest, dir ? 0755 : 0644, dir, 0);
	if (target_fd < 0)
		failw(what, "create mount point", errno);
	char res[4096];
	resolved(target_fd, res, sizeof res, what);
	check_proc(res, (int)is_proc, src, what);
}

/* mount_path is what mount(2) is given for fd, opened as p: its
 * /proc/self/fd path, or p itself after pivot_root where there is no
 * procfs (the kernel's lookup of p can no longer leave the root). */
static const char *mount_path(int fd, const char *p)
{
	return use_fd ? fd_path(fd) : p;
}

static void op_mount(struct cursor *c)
{
	uint32_t flags = plan_u32(c);
	const char *src = plan_string(c), *target = plan_string(c), *fstype = plan_string(c);
	const char *data = plan_string(c);
	uint32_t at = plan_u32(c);
	const char *what = plan_string(c);
	if (c->bad)
		return;
	int fd = -1;
	const char *where = target;
	if (at == AT_TARGET) {
		where = fd_path(target_fd);
	} else if (at == AT_ROOT) {
		fd = in_root(target, O_PATH);
		if (fd < 0)
			failw(what, "reopen", errno);
		where = mount_path(fd, target);
	}
	int r = mount(src, where, fstype, flags, data);
	int err = errno;
	if (fd >= 0)
		close(fd);
	if (r < 0)
		failw(what, NULL, err);
}

static void op_finish(struct cursor *c)
{
	const char *dest = plan_string(c);
	uint32_t check = plan_u32(c), nprop = plan_u32(c);
	uint32_t props[8];
	if (nprop > 8)
		c->bad = 1, nprop = 0;
	for (uint32_t i = 0; i < nprop; i++)
		props[i] = plan_u32(c);
	uint64_t set = plan_u64(c), clr = plan_u64(c);
	const char *what = plan_string(c);
	if (c->bad)
		return;
	int fd = in_root(dest, O_PATH);
	if (fd < 0)
		failw(what, "reopen after mount", errno);
	if (check) {
		struct statx stx;
		if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) < 0)
			failw(what, "statx after mount", errno);
		if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
			failw(what, "destination is not the new mount after mounting", 0);
	}
	for (uint32_t i = 0; i < nprop; i++)
		if (mount("", fd_path(fd), NULL, props[i], NULL) < 0)
			failw(what, "set propagation", errno);
	if (set != 0 || clr != 0) {
		struct berth_mount_attr attr = {.attr_set = set, .attr_clr = clr};
		if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
			if (errno == ENOSYS)
				failw(what, "recursive mount options need mount_setattr (linux 5.12)", errno);
			failw(what, "mount_setattr", errno);
		}
	}
	close(fd);
}

static void op_mknod(struct cursor *c)
{
	const char *dir = plan_string(c), *name = plan_string(c);
	uint32_t mode = plan_u32(c);
	uint64_t dev = plan_u64(c);
	uint32_t uid = plan_u32(c), gid = plan_u32(c);
	const char *what = plan_string(c);
	if (c->bad)
		return;
	int parent = create_in_root(dir, 0755, 1, 0);
	if (parent < 0) {
		char msg[4200];
		snprintf(msg, sizeof msg, "create %s", dir);
		failw(what, msg, errno);
	}
	if (mknodat(parent, name, mode, (dev_t)dev) < 0) {
		if (errno == EEXIST) {
			/* Already there, as in an image without a tmpfs on
			 * /dev; kept, as runc does. */
			close(parent);
			return;
		}
		if (errno != EPERM || S_ISFIFO(mode))
			failw(what, "mknod", errno);
		/* Not allowed to make it: bind the host's node. */
		char host[4200];
		snprintf(host, sizeof host, "%s/%s", dir, name);
		int fd = create_in_root(host, 0, 0, 0);
		if (fd < 0)
			failw(what, "create mount point", errno);
		if (mount(host, fd_path(fd), NULL, MS_BIND, NULL) < 0)
			failw(what, "bind mount host node", errno);
		close(fd);
		close(parent);
		return;
	}
	int fd = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		failw(what, NULL, errno);
	if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		failw(what, "chown", errno);
	/* mknod(2) is subject to the umask; set the mode asked for. */
	if (chmod(fd_path(fd), mode & 07777) < 0)
		failw(what, "chmod", errno);
	close(fd);
	close(parent);
}

static void op_symlink(struct cursor *c)
{
	const char *dir = plan_string(c), *target = plan_string(c), *name = plan_string(c);
	uint32_t replace = plan_u32(c);
	const char *what = plan_string(c);
	if (c->bad)
		return;
	int dfd = create_in_root(dir, 0755, 1, 0);
	if (dfd < 0)
		failw(what, NULL, errno);
	if (replace && unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		failw(what, "remove the old one", errno);
	if (symlinkat(target, dfd, name) < 0 && (replace || errno != EEXIST))
		failw(what, NULL, errno);
	close(dfd);
}

static void op_join_cgroup(struct cursor *c)
{
	uint32_t newns = plan_u32(c);
	if (c->bad)
		return;
	/* Before the cgroup namespace, whose root is the caller's cgroups. */
	if (memory_fd >= 0) {
		if (write(memory_fd, "0", 1) != 1)
			failw("join the container's memory cgroup", NULL, errno);
		close(memory_fd);
		memory_fd = -1;
	}
	if (newns && unshare(CLONE_NEWCGROUP) < 0)
		failw("create cgroup namespace", NULL, errno);
}

/* wait_cgroup waits for the parent's {"type":"cgroup"}: the limits are
 * set, and nothing of the container's may run before that. */
static void wait_cgroup(void)
{
	char buf[512];
	size_t n = 0;
	while (n < sizeof buf - 1) {
		ssize_t r = read(plan_sync_fd, buf + n, sizeof buf - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			_exit(1); /* the parent is gone: no one to tell */
		n += (size_t)r;
		buf[n] = '\0';
		if (strchr(buf, '\n') != NULL)
			break;
	}
	buf[n] = '\0';
	if (strstr(buf, "\"type\":\"cgroup\"") == NULL)
		failw("wait for the container's cgroup", "unexpected message from the parent", 0);
}

static void op_pivot(struct cursor *c)
{
	const char *dir = plan_string(c);
	if (c->bad)
		return;
	int old = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (old < 0)
		failw("pivot_root: open old root", NULL, errno);
	int new = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (new < 0)
		failw("pivot_root: open", dir, errno);
	if (fchdir(new) < 0)
		failw("pivot_root: chdir to", dir, errno);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		failw("pivot_root to", dir, errno);
	/* The old root is now stacked on the new one; rslave, so that its
	 * unmount does not reach the host, then detached. */
	if (fchdir(old) < 0)
		failw("pivot_root: chdir to old root", NULL, errno);
	if (mount("", ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		failw("pivot_root: make old root rslave", NULL, errno);
	if (umount2(".", MNT_DETACH) < 0)
		failw("pivot_root: detach old root", NULL, errno);
	if (chdir("/") < 0)
		failw("pivot_root: chdir to new root", NULL, errno);
	close(old);
	close(new);
	if (root_fd >= 0)
		close(root_fd);
	root_fd = -1;
	if (target_fd >= 0)
		close(target_fd);
	target_fd = -1;
}

static void op_hostname(struct cursor *c)
{
	uint32_t which = plan_u32(c);
	const char *name = plan_string(c);
	if (c->bad)
		return;
	char what[256];
	int r;
	if (which == 0) {
		r = sethostname(name, strlen(name));
		snprintf(what, sizeof what, "set hostname \"%s\"", name);
	} else {
		r = setdomainname(name, strlen(name));
		snprintf(what, sizeof what, "set domainname \"%s\"", name);
	}
	if (r < 0)
		failw(what, NULL, errno);
}

static void op_write(struct cursor *c)
{
	const char *path = plan_string(c), *data = plan_string(c), *what = plan_string(c);
	if (c->bad)
		return;
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		failw(what, NULL, errno);
	size_t len = strlen(data);
	if (write(fd, data, len) != (ssize_t)len)
		failw(what, NULL, errno);
	close(fd);
}

/* op_readonly binds a path onto itself and makes it, and every mount
 * under it, read-only. A path that does not exist is skipped. */
static void op_readonly(struct cursor *c)
{
	const char *path = plan_string(c), *what = plan_string(c);
	if (c->bad)
		return;
	int fd = in_root(path, O_PATH);
	if (fd < 0 && errno == ENOENT)
		return;
	if (fd < 0)
		failw(what, NULL, errno);
	const char *target = mount_path(fd, path);
	if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0)
		failw(what, "bind onto itself", errno);
	close(fd);
	fd = in_root(path, O_PATH);
	if (fd < 0)
		failw(what, "reopen after bind", errno);
	struct berth_mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
		if (errno != ENOSYS)
			failw(what, "mount_setattr", errno);
		/* Before linux 5.12: only the top mount can be made read-only. */
		if (mount("", mount_path(fd, path), NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
			failw(what, NULL, errno);
	}
	close(fd);
}

/* op_mask hides a path: /dev/null is bound over a file, an empty
 * read-only tmpfs mounted over a directory. */
static void op_mask(struct cursor *c)
{
	static int null = -1;
	const char *path = plan_string(c), *what = plan_string(c);
	if (c->bad)
		return;
	if (null < 0) {
		null = in_root("/dev/null", O_PATH | O_NOFOLLOW);
		if (null < 0)
			failw("mask paths: open /dev/null", NULL, errno);
		struct stat st;
		if (fstat(null, &st) < 0)
			failw("mask paths: stat /dev/null", NULL, errno);
		if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
			failw("mask paths: /dev/null is not the null device", NULL, 0);
	}
	int fd = in_root(path, O_PATH);
	if (fd < 0 && errno == ENOENT)
		return;
	if (fd < 0)
		failw(what, NULL, errno);
	struct stat st;
	if (fstat(fd, &st) < 0)
		failw(what, NULL, errno);
	const char *target = mount_path(fd, path);
	int r;
	if (S_ISDIR(st.st_mode))
		r = mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "");
	else
		r = mount(mount_path(null, "/dev/null"), target, NULL, MS_BIND, NULL);
	if (r < 0)
		failw(what, NULL, errno);
	close(fd);
}

static void op_procfs(struct cursor *c)
{
	uint32_t required = plan_u32(c);
	if (c->bad)
		return;
	struct statfs st;
	use_fd = statfs("/proc", &st) == 0 && st.f_type == PROC_SUPER_MAGIC;
	if (required && !use_fd)
		failw("prepare rootfs: /proc is not a procfs", NULL, 0);
}

static void op_root(struct cursor *c)
{
	const char *dir = plan_string(c);
	if (c->bad)
		return;
	if (root_fd >= 0)
		close(root_fd);
	root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		failw("prepare rootfs: open", dir, errno);
	root_path = dir;
}

void berth_create_plan(const char *plan_fd, const char *sync, const char *memory, const char *fifo)
{
	prctl(PR_SET_NAME, "berth-init", 0, 0, 0);
	if (memory != NULL)
		memory_fd = atoi(memory);
	struct cursor c = plan_load(plan_fd, sync, "create plan");
	if (plan_u32(&c) != CREATE_MAGIC)
		plan_fail("read create plan: malformed", 0);
	proc_ok = plan_strings(&c);
	for (uint32_t op = plan_u32(&c); !c.bad && op != OP_END; op = plan_u32(&c)) {
		switch (op) {
		case OP_MOUNT: op_mount(&c); break;
		case OP_ROOT: op_root(&c); break;
		case OP_TARGET: op_target(&c); break;
		case OP_FINISH: op_finish(&c); break;
		case OP_MKNOD: op_mknod(&c); break;
		case OP_SYMLINK: op_symlink(&c); break;
		case OP_JOIN_CGROUP: op_join_cgroup(&c); break;
		case OP_WAIT_CGROUP: wait_cgroup(); break;
		case OP_PIVOT: op_pivot(&c); break;
		case OP_HOSTNAME: op_hostname(&c); break;
		case OP_WRITE: op_write(&c); break;
		case OP_READONLY: op_readonly(&c); break;
		case OP_MASK: op_mask(&c); break;
		case OP_PROCFS: op_procfs(&c); break;
		default: c.bad = 1;
		}
	}
	if (c.bad || proc_ok == NULL)
		plan_fail("read create plan: malformed", 0);
	if (target_fd >= 0)
		close(target_fd);
	if (root_fd >= 0)
		close(root_fd);
	berth_process(&c, NULL, fifo != NULL ? atoi(fifo) : -1);
}
