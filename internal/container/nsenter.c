// Joining namespaces before the Go runtime starts.
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

__attribute__((constructor)) static void berth_nsenter(void)
{
	const char *list = getenv("_BERTH_SETNS");
	const char *rep = getenv("_BERTH_SETNS_REPORT");
	if (list == NULL || rep == NULL)
		return;
	int rfd = atoi(rep);
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
