/*
 * berth-init is the init that `berth run --init` makes a container's
 * PID 1, as tini is Docker's:
 *
 *     berth-init -- COMMAND [ARG...]
 *
 * It runs COMMAND as its child, forwards to it every signal it is sent,
 * reaps every process that ends up its child (orphans are reparented to
 * PID 1, and a shell or server run as PID 1 rarely waits for them, so
 * they would stay zombies), and exits with the child's status: its exit
 * code, or 128 plus the signal that killed it. When the command cannot
 * be run it exits 127 (not found) or 126, as a shell does.
 *
 * It is built static (make build puts it beside berth), so that it runs
 * in any image, whatever libc the image has or lacks. berth copies it
 * into the container's own directory at each start and binds the copy
 * read-only: a container never reaches berth's file (see DESIGN.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *what, const char *arg)
{
	const char *parts[] = {"berth-init: ", what, arg ? arg : "", arg ? ": " : "", arg ? strerror(errno) : "", "\n"};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		if (write(STDERR_FILENO, parts[i], strlen(parts[i])) < 0)
			return;
}

int main(int argc, char **argv)
{
	int first = 1;
	if (argc > 1 && strcmp(argv[1], "--") == 0)
		first = 2;
	if (first >= argc) {
		say("usage: berth-init [--] COMMAND [ARG...]", NULL);
		return 2;
	}

	/* Every signal waits, blocked, for sigwaitinfo below, except those
	 * the kernel raises for this process's own faults. Blocked signals
	 * also reach PID 1 of a pid namespace, which drops those it has no
	 * handler for. */
	sigset_t waited, old;
	sigfillset(&waited);
	int faults[] = {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS};
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
		sigdelset(&waited, faults[i]);
	if (sigprocmask(SIG_SETMASK, &waited, &old) < 0) {
		say("block signals", "");
		return 1;
	}
	/* Run as another process's child (no pid namespace), it still
	 * becomes the parent of its orphans. */
	if (getpid() != 1)
		prctl(PR_SET_CHILD_SUBREAPER, 1);

	pid_t child = fork();
	if (child < 0) {
		say("fork", "");
		return 1;
	}
	if (child == 0) {
		/* A group of its own, made the terminal's foreground one when
		 * there is a terminal, so that ^C and ^Z reach the command.
		 * SIGTTOU is still blocked, so tcsetpgrp is allowed. */
		setpgid(0, 0);
		tcsetpgrp(STDIN_FILENO, getpgrp());
		sigprocmask(SIG_SETMASK, &old, NULL);
		execvp(argv[first], argv + first);
		int code = errno == ENOENT ? 127 : 126;
		say("exec ", argv[first]);
		_exit(code);
	}

	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(&waited, &info);
		if (sig < 0)
			continue; /* EINTR */
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		/* SIGCHLDs merge while pending: reap every child that has
		 * ended, not just one. */
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);
			if (pid <= 0)
				break;
			if (pid != child)
				continue;
			/* The rest of the container is killed by the kernel
			 * when PID 1 exits. */
			if (WIFSIGNALED(status))
				return 128 + WTERMSIG(status);
			return WEXITSTATUS(status);
		}
	}
}
