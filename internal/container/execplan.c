// Running a process in a running container without starting Go.
//
// `exec` into a container needs no mounts and no hooks: once nsenter.c has
// joined the container's cgroups and namespaces, what is left is a short
// list of system calls. Starting the Go runtime for them would cost more
// than all of them together, so the parent (Go) works out every value
// beforehand and writes it, as an exec plan, to a memfd named by
// _BERTH_EXEC_PLAN; the constructor then carries the plan out here and
// executes the process. The parent sends only processes this file can run
// in full (no terminal, no LSM label, no personality, no seccomp agent);
// everything else goes through the Go init. No policy lives here.
//
// The plan, every integer in host byte order (see execplan.go):
//
//   u32 magic, flags, uid, gid, umask, lastcap
//   u64 bounding, effective, permitted, inheritable, ambient
//   u32 ngroups, then ngroups u32
//   u32 nrlimits, then (u32 resource, u64 soft, u64 hard, bytes name) each
//   u32 seccomp flags, bytes: the BPF program (8 bytes per instruction)
//   bytes cwd, u32 nargs, bytes each arg, u32 nenv, bytes each variable
//
// where "bytes" is a u32 length and that many bytes. The steps and their
// order are the Go init's (init_linux.go), and so are the messages.
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "execplan.h"

#define PLAN_MAGIC 0x31504542u /* "BEP1" */
#define PLAN_NNP 1u

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

static void take(struct cursor *c, void *dst, size_t n)
{
	if (c->bad || c->left < n) {
		c->bad = 1;
		memset(dst, 0, n);
		return;
	}
	memcpy(dst, c->p, n);
	c->p += n;
	c->left -= n;
}

uint32_t plan_u32(struct cursor *c)
{
	uint32_t v;
	take(c, &v, sizeof v);
	return v;
}

uint64_t plan_u64(struct cursor *c)
{
	uint64_t v;
	take(c, &v, sizeof v);
	return v;
}

/* bytes returns a pointer into the plan and its length; strings come out
 * NUL-terminated because the parent ends each with a NUL it counts. */
const char *plan_bytes(struct cursor *c, uint32_t *len)
{
	uint32_t n = plan_u32(c);
	if (c->bad || c->left < n) {
		c->bad = 1;
		*len = 0;
		return "";
	}
	const char *s = (const char *)c->p;
	c->p += n;
	c->left -= n;
	*len = n;
	return s;
}

const char *plan_string(struct cursor *c)
{
	uint32_t n;
	const char *s = plan_bytes(c, &n);
	if (n == 0 || s[n - 1] != '\0' || memchr(s, '\0', n - 1) != NULL) {
		c->bad = 1;
		return "";
	}
	return s;
}

const char **plan_strings(struct cursor *c)
{
	uint32_t n = plan_u32(c);
	if (c->bad || n > c->left / 5)
		return c->bad = 1, NULL;
	const char **v = calloc((size_t)n + 1, sizeof *v);
	if (v == NULL)
		return c->bad = 1, NULL;
	for (uint32_t i = 0; i < n; i++)
		v[i] = plan_string(c);
	return v;
}

int plan_sync_fd = -1;
static int ready_sent;

/* json appends s to buf as the inside of a JSON string. */
static size_t json(char *buf, size_t at, size_t cap, const char *s)
{
	for (; *s && at + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			buf[at++] = '\\';
			buf[at++] = (char)ch;
		} else if (ch < 0x20) {
			at += (size_t)snprintf(buf + at, cap - at, "\\u%04x", ch);
		} else {
			buf[at++] = (char)ch;
		}
	}
	return at;
}

/* fail ends the process with msg: to the parent while it listens, and
 * after ready, which is sent just before the process is executed, on
 * stderr, as the Go init does. code is the exit code (126, 127) or 0. */
void plan_fail(const char *msg, int code)
{
	if (!ready_sent) {
		char buf[4096];
		size_t n = (size_t)snprintf(buf, sizeof buf, "{\"type\":\"error\",\"error\":\"");
		n = json(buf, n, sizeof buf - 32, msg);
		if (code != 0)
			n += (size_t)snprintf(buf + n, sizeof buf - n, "\",\"exitCode\":%d}\n", code);
		else
			n += (size_t)snprintf(buf + n, sizeof buf - n, "\"}\n");
		if (write(plan_sync_fd, buf, n) < 0) {
			/* the parent reads EOF and reports a generic failure */
		}
	} else {
		dprintf(STDERR_FILENO, "berth: %s\n", msg);
	}
	_exit(code != 0 ? code : 1);
}

/* errtext is strerror as Go spells it, starting in lower case. */
const char *plan_errtext(int err)
{
	static char buf[128];
	snprintf(buf, sizeof buf, "%s", strerror(err));
	buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}

void plan_failf(int code, const char *fmt, const char *arg, int err)
{
	char msg[2048];
	int n = snprintf(msg, sizeof msg, fmt, arg);
	if (err != 0 && n > 0 && (size_t)n < sizeof msg)
		snprintf(msg + n, sizeof msg - (size_t)n, ": %s", plan_errtext(err));
	plan_fail(msg, code);
}

static int check_executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if ((st.st_mode & 0111) == 0)
		return EACCES;
	return 0;
}

static void exec_error(const char *name, int err)
{
	if (err == ENOENT || err == ENOTDIR)
		plan_failf(127, "exec: \"%s\": no such file or directory", name, 0);
	plan_failf(126, "exec: \"%s\"", name, err);
}

/* look_path finds args[0] with the process's own PATH, as lookPath does. */
static const char *look_path(const char *name, const char **env)
{
	if (strchr(name, '/') != NULL) {
		int err = check_executable(name);
		if (err != 0)
			exec_error(name, err);
		return name;
	}
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (const char **e = env; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	int denied = 0;
	size_t nlen = strlen(name);
	for (const char *dir = path;;) {
		const char *end = strchr(dir, ':');
		size_t dlen = end ? (size_t)(end - dir) : strlen(dir);
		char *full = malloc(dlen + nlen + 3);
		if (full == NULL)
			plan_fail("out of memory", 0);
		if (dlen == 0)
			snprintf(full, nlen + 3, "./%s", name);
		else
			sprintf(full, "%.*s/%s", (int)dlen, dir, name);
		int err = check_executable(full);
		if (err == 0)
			return full;
		if (err == EACCES && denied == 0)
			denied = err;
		free(full);
		if (end == NULL)
			break;
		dir = end + 1;
	}
	if (denied != 0)
		exec_error(name, denied);
	plan_failf(127, "exec: \"%s\": executable file not found in $PATH", name, 0);
	return NULL;
}

static void load_seccomp(uint32_t flags, const char *code, uint32_t len)
{
	if (len == 0)
		return;
	struct sock_fprog prog = {.len = (unsigned short)(len / 8), .filter = (struct sock_filter *)(void *)code};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (r < 0 && errno == EACCES)
		plan_failf(0, "seccomp: load filter: %s (set no_new_privs first or hold CAP_SYS_ADMIN)", plan_errtext(errno), 0);
	if (r < 0)
		plan_failf(0, "seccomp: load filter", NULL, errno);
}

static void set_caps(uint64_t eff, uint64_t perm, uint64_t inh, uint64_t amb, uint32_t lastcap)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(eff >> (32 * i));
		data[i].permitted = (uint32_t)(perm >> (32 * i));
		data[i].inheritable = (uint32_t)(inh >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		plan_failf(0, "set capabilities", NULL, errno);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		plan_failf(0, "clear ambient capabilities", NULL, errno);
	for (uint32_t n = 0; n <= lastcap && n < 64; n++)
		if (amb & (1ull << n))
			prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, n, 0, 0);
}

static unsigned char *plan_read(int fd, size_t *len)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > (64 << 20))
		return NULL;
	unsigned char *buf = malloc((size_t)st.st_size);
	if (buf == NULL)
		return NULL;
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
		if (n <= 0)
			return free(buf), NULL;
		got += (size_t)n;
	}
	*len = got;
	return buf;
}

struct cursor plan_load(const char *plan_fd, const char *sync, const char *what)
{
	plan_sync_fd = atoi(sync);
	int fd = atoi(plan_fd);
	size_t len = 0;
	unsigned char *plan = plan_read(fd, &len);
	if (plan == NULL) {
		char msg[128];
		snprintf(msg, sizeof msg, "read %s: malformed or unreadable", what);
		plan_fail(msg, 0);
	}
	close(fd);
	return (struct cursor){.p = plan, .left = len};
}

void berth_exec_plan(const char *plan_fd, const char *sync, const char *memory)
{
	struct cursor c = plan_load(plan_fd, sync, "exec plan");
	berth_process(&c, memory, -1);
}

/* wait_start blocks until `berth start` opens the exec fifo for reading,
 * as the Go init's waitStart does. */
static void wait_start(int fifo)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fifo);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		plan_failf(0, "open exec fifo", NULL, errno);
	close(fifo);
	if (write(fd, "0", 1) != 1)
		plan_failf(0, "write exec fifo", NULL, errno);
	close(fd);
}

void berth_process(struct cursor *cur, const char *memory, int fifo)
{
	struct cursor c = *cur;
	uint32_t magic = plan_u32(&c), flags = plan_u32(&c), uid = plan_u32(&c), gid = plan_u32(&c);
	uint32_t mask = plan_u32(&c), lastcap = plan_u32(&c);
	uint64_t bounding = plan_u64(&c), eff = plan_u64(&c), perm = plan_u64(&c), inh = plan_u64(&c), amb = plan_u64(&c);
	uint32_t ngroups = plan_u32(&c);
	gid_t *groups = NULL;
	if (!c.bad && ngroups <= c.left / 4) {
		groups = calloc((size_t)ngroups + 1, sizeof *groups);
		for (uint32_t i = 0; groups && i < ngroups; i++)
			groups[i] = plan_u32(&c);
	} else {
		c.bad = 1;
	}
	uint32_t nrl = plan_u32(&c);
	if (c.bad || nrl > 64)
		c.bad = 1, nrl = 0;
	struct {
		uint32_t res;
		uint64_t soft, hard;
		const char *name;
	} rl[64];
	for (uint32_t i = 0; i < nrl; i++) {
		rl[i].res = plan_u32(&c);
		rl[i].soft = plan_u64(&c);
		rl[i].hard = plan_u64(&c);
		rl[i].name = plan_string(&c);
	}
	uint32_t sc_flags = plan_u32(&c), sc_len;
	const char *sc_code = plan_bytes(&c, &sc_len);
	const char *cwd = plan_string(&c);
	const char **args = plan_strings(&c);
	const char **env = plan_strings(&c);
	if (c.bad || magic != PLAN_MAGIC || groups == NULL || args == NULL || args[0] == NULL ||
	    env == NULL || sc_len % 8 != 0 || c.left != 0)
		plan_fail("read exec plan: malformed", 0);

	/* Nothing but stdio reaches the process. */
	if (syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
		for (int i = 3; i < 1024; i++)
			if (i != plan_sync_fd)
				fcntl(i, F_SETFD, FD_CLOEXEC);

	const char *name = look_path(args[0], env);

	/* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, so it
	 * goes in before capabilities are dropped. */
	if (!(flags & PLAN_NNP))
		load_seccomp(sc_flags, sc_code, sc_len);
	/* Hard limits may go up only while CAP_SYS_RESOURCE is held. */
	for (uint32_t i = 0; i < nrl; i++) {
		struct rlimit lim = {.rlim_cur = rl[i].soft, .rlim_max = rl[i].hard};
		if (setrlimit((int)rl[i].res, &lim) < 0) {
			char what[256];
			snprintf(what, sizeof what, "set rlimit %s soft=%llu hard=%llu", rl[i].name,
				 (unsigned long long)rl[i].soft, (unsigned long long)rl[i].hard);
			plan_failf(0, "%s", what, errno);
		}
	}
	for (uint32_t n = 0; n <= lastcap && n < 64; n++)
		if (!(bounding & (1ull << n)) && prctl(PR_CAPBSET_DROP, n, 0, 0, 0) < 0 && errno != EINVAL) {
			char what[64];
			snprintf(what, sizeof what, "drop capability number %u from bounding set", n);
			plan_failf(0, "%s", what, errno);
		}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		plan_failf(0, "keep capabilities", NULL, errno);
	if (setgroups(ngroups, groups) < 0 && !(ngroups == 0 && errno == EPERM))
		plan_failf(0, "setgroups", NULL, errno);
	if (setgid(gid) < 0) {
		char what[32];
		snprintf(what, sizeof what, "setgid %u", gid);
		plan_failf(0, "%s", what, errno);
	}
	if (setuid(uid) < 0) {
		char what[32];
		snprintf(what, sizeof what, "setuid %u", uid);
		plan_failf(0, "%s", what, errno);
	}
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		plan_failf(0, "keep capabilities", NULL, errno);
	set_caps(eff, perm, inh, amb, lastcap);
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		plan_failf(0, "set dumpable", NULL, errno);

	/* The working directory must lie inside the container's root: one
	 * reached through a leaked descriptor would not (CVE-2024-21626). */
	if (chdir(cwd) < 0)
		plan_failf(0, "chdir to the process's cwd (\"%s\")", cwd, errno);
	char wd[4096];
	if (getcwd(wd, sizeof wd) == NULL || wd[0] != '/')
		plan_failf(0, "cwd \"%s\" is outside the container's root", cwd, 0);
	if ((flags & PLAN_NNP) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		plan_failf(0, "set no_new_privs", NULL, errno);

	static const char ready[] = "{\"type\":\"ready\"}\n";
	if (write(plan_sync_fd, ready, sizeof ready - 1) != (ssize_t)(sizeof ready - 1))
		_exit(1);
	ready_sent = 1;
	if (fifo >= 0)
		wait_start(fifo);

	if (flags & PLAN_NNP)
		load_seccomp(sc_flags, sc_code, sc_len);
	umask(mask);
	/* The exec'd process joins the v1 memory cgroup last, so that what
	 * was allocated on its way here is not charged to the container. */
	if (memory != NULL && write(atoi(memory), "0", 1) != 1)
		plan_failf(0, "join the container's memory cgroup", NULL, errno);
	execve(name, (char *const *)args, (char *const *)env);
	exec_error(args[0], errno);
}
