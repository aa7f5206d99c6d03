// The spawn agent: a start command that lets its caller start a detached
// container's init as the agent's own child.
//
// A detached container's monitor runs a start command whose child the
// container's init must be (see internal/monitor). berth's own start
// command, `berth __start ID`, is a Go process that does all of create
// and start itself. When the berth command that starts the container has
// done the work already, up to the clone of the init, the monitor can run
// this agent instead: the monitor gives the first start command the
// caller's socket as fd 4 and _BERTH_SPAWN=4 in its environment, and the
// berth binary acts here, in a constructor, before any Go runs:
//
//   1. It reads one request from fd 4: clone flags, the cgroup2 directory
//      to be born in, the program, the working directory, its argv and
//      environment, and the descriptors that become the child's 3, 4, ...
//      (SCM_RIGHTS). The child's stdio are the agent's: the monitor's.
//   2. It clones the init with those flags (namespaces, CLONE_INTO_CGROUP)
//      and executes the program, and answers "pid N M\n", M being the
//      agent's parent, the monitor, or "error MSG\n".
//   3. It waits for the caller's verdict: "ok\n" once the container has
//      started, anything else when the caller failed. Then it reports as
//      every start command does: the pid on fd 3 and exit 0, or the
//      caller's message on fd 3 and exit 1. The init, orphaned, goes to
//      the monitor, a subreaper.
//
// Without fd 4 (on a restart, the monitor runs its start command again,
// with no caller) the variable is dropped and Go runs `berth __start`.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPAWN_MAX (256 * 1024) /* the request, strings and all */
#define SPAWN_FDS 32
#define SPAWN_STRINGS 4096

/* The request's fixed part. Numbers are in the host's byte order: both
 * ends are on one host. */
#define SPAWN_MAGIC 0x68747262u /* "brth" */

struct spawn_head {
	uint32_t magic;    /* SPAWN_MAGIC: anything else is the caller giving up */
	uint32_t len;      /* of what follows this head */
	uint64_t flags;    /* clone flags */
	uint32_t argc;     /* strings after the path and the directory */
	uint32_t envc;     /* strings after argv */
	int32_t cgroup;    /* index of the cgroup2 directory among the fds, or -1 */
	uint32_t reserved; /* 0 */
};
_Static_assert(sizeof(struct spawn_head) == 32, "the head is 32 bytes, as Go writes it");

static char req[SPAWN_MAX + 1];
static int fds[SPAWN_FDS];
static int nfds;

__attribute__((noreturn)) static void agent_report(int code, const char *msg)
{
	size_t n = strlen(msg);
	if (write(3, msg, n) < 0 || write(3, "\n", 1) < 0) {
		/* the monitor reports the exit status instead */
	}
	_exit(code);
}

/* answer writes the caller a line: "pid N M" or "error MSG". */
static void answer(const char *line)
{
	size_t n = strlen(line);
	if (write(4, line, n) < 0 || write(4, "\n", 1) < 0) {
		/* the caller reads EOF */
	}
}

/* Reads the request: the head, then len bytes; the descriptors come with
 * the first part. */
static int read_request(struct spawn_head *h)
{
	size_t got = 0, want = sizeof(*h);
	while (got < want) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int) * SPAWN_FDS)];
		} u;
		struct iovec iov = {.iov_base = req + got, .iov_len = want - got};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
		ssize_t n = recvmsg(4, &m, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (m.msg_flags & MSG_CTRUNC)
			return -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				if (nfds == SPAWN_FDS)
					return -1;
				memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			}
		}
		got += (size_t)n;
		if (got >= sizeof(uint32_t) && memcmp(req, &(uint32_t){SPAWN_MAGIC}, sizeof(uint32_t)) != 0)
			return -1; /* a verdict: the caller gave up before asking */
		if (got == sizeof(*h)) {
			memcpy(h, req, sizeof(*h));
			if (h->magic != SPAWN_MAGIC || h->len > SPAWN_MAX - sizeof(*h))
				return -1;
			want = sizeof(*h) + h->len;
		}
	}
	req[got] = '\0';
	return 0;
}

/* The strings after the head: path, working directory (may be empty),
 * argv, env, each NUL-terminated. */
static int split_strings(const struct spawn_head *h, char **out, size_t max)
{
	size_t want = 2 + (size_t)h->argc + (size_t)h->envc;
	if (want > max)
		return -1;
	char *p = req + sizeof(*h), *end = req + sizeof(*h) + h->len;
	for (size_t i = 0; i < want; i++) {
		char *nul = memchr(p, '\0', (size_t)(end - p));
		if (nul == NULL)
			return -1;
		out[i] = p;
		p = nul + 1;
	}
	return p == end ? 0 : -1;
}

/* In the child: the request's descriptors, but the cgroup's, become 3, 4,
 * ... in order, then the program runs. */
static void child(char *path, char *dir, char **argv, char **envp, int cgroup, int errw)
{
	int n = 0, moved[SPAWN_FDS];
	if (dir[0] != '\0' && chdir(dir) < 0)
		goto fail;
	for (int i = 0; i < nfds; i++) {
		if (i == cgroup)
			continue;
		/* above every target first, so that no dup2 clobbers a source */
		moved[n] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + nfds);
		if (moved[n] < 0)
			goto fail;
		n++;
	}
	for (int i = 0; i < n; i++)
		if (dup2(moved[i], 3 + i) < 0)
			goto fail;
	execve(path, argv, envp);
fail:;
	int err = errno;
	if (write(errw, &err, sizeof(err)) < 0) {
		/* the parent sees the exit without an error */
	}
	_exit(127);
}

static void agent(void)
{
	static char *strs[SPAWN_STRINGS + 1];
	struct spawn_head h = {0};
	/* The report pipe and the socket are not the init's. */
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0 || fcntl(4, F_SETFD, FD_CLOEXEC) < 0)
		agent_report(1, "spawn agent: descriptors 3 and 4 are not open");
	if (read_request(&h) < 0)
		agent_report(1, "the container's start was given up before its init was started");
	if (split_strings(&h, strs, SPAWN_STRINGS) < 0 || h.cgroup >= nfds || h.cgroup < -1)
		agent_report(1, "spawn agent: bad request");
	/* execve takes NULL-terminated lists */
	static char *argv[SPAWN_STRINGS + 1], *envp[SPAWN_STRINGS + 1];
	memcpy(argv, strs + 2, h.argc * sizeof(char *));
	argv[h.argc] = NULL;
	memcpy(envp, strs + 2 + h.argc, h.envc * sizeof(char *));
	envp[h.envc] = NULL;

	int errp[2];
	if (pipe2(errp, O_CLOEXEC) < 0)
		agent_report(1, "spawn agent: pipe failed");
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.flags = h.flags | CLONE_VFORK;
	ca.exit_signal = SIGCHLD;
	if (h.cgroup >= 0) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)fds[h.cgroup];
	}
	long pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		child(strs[0], strs[1], argv, envp, h.cgroup, errp[1]);
	int cerr = errno;
	close(errp[1]);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	char line[512];
	if (pid < 0) {
		snprintf(line, sizeof(line), "error start container init: %s", strerror(cerr));
		answer(line);
		agent_report(1, line + 6);
	}
	int err = 0;
	if (read(errp[0], &err, sizeof(err)) == (ssize_t)sizeof(err)) {
		waitpid((pid_t)pid, NULL, 0);
		snprintf(line, sizeof(line), "error start container init: %s", strerror(err));
		answer(line);
		agent_report(1, line + 6);
	}
	close(errp[0]);
	snprintf(line, sizeof(line), "pid %ld %ld", pid, (long)getppid());
	answer(line);

	/* The verdict: "ok" once the container has started. */
	char v[1024];
	size_t got = 0;
	while (got < sizeof(v) - 1) {
		ssize_t n = read(4, v + got, sizeof(v) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(v, '\n', got) != NULL)
			break;
	}
	v[got] = '\0';
	char *nl = strchr(v, '\n');
	if (nl != NULL)
		*nl = '\0';
	if (strcmp(v, "ok") == 0) {
		snprintf(line, sizeof(line), "%ld", pid);
		agent_report(0, line);
	}
	/* The caller gave up: the init goes, not to the monitor. */
	kill((pid_t)pid, SIGKILL);
	waitpid((pid_t)pid, NULL, 0);
	agent_report(1, strncmp(v, "fail ", 5) == 0 ? v + 5 : "the container's start was given up");
}

__attribute__((constructor)) static void berth_spawn_agent(void)
{
	if (getenv("_BERTH_SPAWN") == NULL)
		return;
	unsetenv("_BERTH_SPAWN");
	if (fcntl(4, F_GETFD) < 0)
		return; /* no caller: a restart, which `berth __start` does */
	agent();
}
