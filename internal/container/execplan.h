#ifndef BERTH_EXECPLAN_H
#define BERTH_EXECPLAN_H

/* berth_exec_plan carries out the exec plan in the memfd plan_fd and
 * executes the process; it never returns. sync is the init's sync socket
 * and memory, or NULL, the v1 memory cgroup's tasks file (both fds, as
 * decimal strings). */
void berth_exec_plan(const char *plan_fd, const char *sync, const char *memory);

#endif
