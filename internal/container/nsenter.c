// Joining cgroups and namespaces before the Go runtime starts.
//
// A thread that moves only itself into a cgroup v1 hierarchy (writing "0"
// to its tasks file) spares the kernel the global lock, and the RCU grace
// period, that moving a whole process costs. Before the Go runtime starts,
// the init has a single thread, so moving it moves the whole init:
//
//   _BERTH_CGROUP_TASKS=fd,fd,...  tasks files to write "0" to
//   _BERTH_SYNC_FD=fd              where a failure is reported, as the
//                                  init's own JSON error message
//
// setns(2) into a mount or user namespace needs a single-threaded caller,
// and a Go program has threads before main() runs. So berth's init, when
// started with _BERTH_SETNS in its environment, joins the namespaces here,
// in a constructor that runs before the Go runtime, and only then lets Go
// start. No policy lives here: the Go side decides what to join and why.
//
//   _BERTH_SETNS=fd,fd,...  namespace fds to join, in order (user first)
//   _BERTH_SETNS_REPORT=fd  where to write "ok\n", "pid N\n" or "error MSG\n"
//
// With _BERTH_EXEC_PLAN=fd as well, the process (after the fork, the
// child) runs the exec plan in execplan.c and never starts Go at all;
// with _BERTH_CREATE_PLAN=fd, a new container's init runs the create plan
// in createplan.c, and does not either.
//
// Joining a pid namespace only affects children, so when one was joined
// the constructor forks once with CLONE_PARENT: the child, already inside
// every namespace, becomes a sibling of this process and so a direct child
// of the berth process that started it; this process reports the child's
// pid (in berth's pid namespace) and exits. Otherwise it reports "ok".
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "execplan.h"

#ifndef NS_GET_NSTYPE
#define NS_GET_NSTYPE 0xb703
#endif

static void report(int fd, const char *what, const char *detail)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s %s\n", what, detail);
	if (n > 0 && write(fd, buf, (size_t)n) < 0) {
		/* the parent reads EOF and reports a generic failure */
	}
}

/* The strings written are strerror's and fixed text: nothing to escape. */
static void fail_sync(const char *what)
{
	char buf[256];
	const char *sync = getenv("_BERTH_SYNC_FD");
	int n = snprintf(buf, sizeof(buf), "{\"type\":\"error\",\"error\":\"%s: %s\"}\n",
			 what, strerror(errno));
	if (sync != NULL && n > 0 && write(atoi(sync), buf, (size_t)n) < 0) {
		/* the parent reads EOF and reports a generic failure */
	}
	_exit(1);
}

static void join_namespaces(const char *list, int rfd);

static void join_cgroups(const char *list)
{
	for (const char *p = list; *p;) {
		char *end;
		long fd = strtol(p, &end, 10);
		if (end == p) {
			errno = EINVAL;
			fail_sync("malformed _BERTH_CGROUP_TASKS");
		}
		if (write((int)fd, "0", 1) != 1)
			fail_sync("join the container's cgroup");
		close((int)fd);
		p = *end == ',' ? end + 1 : end;
	}
}

__attribute__((constructor)) static void berth_nsenter(void)
{
	const char *tasks = getenv("_BERTH_CGROUP_TASKS");
	if (tasks != NULL)
		join_cgroups(tasks);

	const char *list = getenv("_BERTH_SETNS");
	const char *rep = getenv("_BERTH_SETNS_REPORT");
	if (list != NULL && rep != NULL)
		join_namespaces(list, atoi(rep));

	const char *sync = getenv("_BERTH_SYNC_FD");
	const char *plan = getenv("_BERTH_EXEC_PLAN");
	if (plan != NULL && sync != NULL)
		berth_exec_plan(plan, sync, getenv("_BERTH_CGROUP_MEMORY"));
	plan = getenv("_BERTH_CREATE_PLAN");
	if (plan != NULL && sync != NULL)
		berth_create_plan(plan, sync, getenv("_BERTH_CGROUP_MEMORY"), getenv("_BERTH_FIFO_FD"));
}

static void join_namespaces(const char *list, int rfd)
{
	int joined_pid = 0;
	char msg[200];

	for (const char *p = list; *p;) {
		char *end;
		long fd = strtol(p, &end, 10);
		if (end == p) {
			report(rfd, "error", "malformed _BERTH_SETNS");
			_exit(1);
		}
		int type = ioctl((int)fd, NS_GET_NSTYPE);
		if (setns((int)fd, 0) < 0) {
			snprintf(msg, sizeof(msg), "setns type 0x%x: %s", type, strerror(errno));
			report(rfd, "error", msg);
			_exit(1);
		}
		if (type == CLONE_NEWPID)
			joined_pid = 1;
		close((int)fd);
		p = *end == ',' ? end + 1 : end;
	}

	if (joined_pid) {
		long child = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
		if (child < 0) {
			snprintf(msg, sizeof(msg), "fork into pid namespace: %s", strerror(errno));
			report(rfd, "error", msg);
			_exit(1);
		}
		if (child > 0) {
			snprintf(msg, sizeof(msg), "%ld", child);
			report(rfd, "pid", msg);
			_exit(0);
		}
	} else {
		report(rfd, "ok", "");
	}
	close(rfd);
}
