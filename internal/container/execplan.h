#ifndef BERTH_EXECPLAN_H
#define BERTH_EXECPLAN_H

#include <stddef.h>
#include <stdint.h>

/* berth_exec_plan carries out the exec plan in the memfd plan_fd and
 * executes the process; it never returns. sync is the init's sync socket
 * and memory, or NULL, the v1 memory cgroup's tasks file (both fds, as
 * decimal strings). */
void berth_exec_plan(const char *plan_fd, const char *sync, const char *memory);

/* berth_create_plan carries out a create plan (createplan.c): it prepares
 * the container's root filesystem, waits for its cgroup, pivots into it,
 * then runs the process part, an exec plan, and waits on the exec fifo
 * before it executes the process. It never returns. */
void berth_create_plan(const char *plan_fd, const char *sync, const char *memory, const char *fifo);

/* A cursor reads a plan; a read past its end sets bad and yields zeros. */
struct cursor {
	const unsigned char *p;
	size_t left;
	int bad;
};

uint32_t plan_u32(struct cursor *c);
uint64_t plan_u64(struct cursor *c);
const char *plan_bytes(struct cursor *c, uint32_t *len);
const char *plan_string(struct cursor *c);
const char **plan_strings(struct cursor *c);
/* plan_load reads the plan in the memfd plan_fd and sets plan_sync_fd
 * from sync (both decimal fd strings); it fails, naming what, when the
 * plan cannot be read. */
struct cursor plan_load(const char *plan_fd, const char *sync, const char *what);

/* berth_process runs the exec plan at c (the process part): user,
 * capabilities, limits, seccomp, cwd, then ready to the parent, then, if
 * fifo >= 0, the wait on the exec fifo, and executes the process. */
void berth_process(struct cursor *c, const char *memory, int fifo);

/* The sync socket to the parent, and failing: msg goes to the parent as
 * the init's error while it listens, to stderr after ready. */
extern int plan_sync_fd;
void plan_fail(const char *msg, int code);
void plan_failf(int code, const char *fmt, const char *arg, int err);
const char *plan_errtext(int err);

#endif
