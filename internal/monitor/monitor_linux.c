// The container monitor, run before the Go runtime starts.
//
// A detached container is watched for its whole life by one monitor
// process, so the monitor's memory is paid once per container. A Go
// process costs megabytes; this constructor, in the berth binary, costs
// about 150 KB of memory of its own (libc's and ld.so's data, the stack,
// the buffers below), plus its share of the pages of libc and of the
// binary that every monitor maps. It runs when berth was started with
//
//   _BERTH_MONITOR=fd   a socket: the config comes in (monitor.go writes
//                       it, then shuts down its side; a first attach
//                       client's socket may come with it), the status
//                       goes out: "ok MONITOR-PID CONTAINER-PID\n",
//                       "error MESSAGE\n", or "fail STATUS MESSAGE\n"
//                       when the start command exited with STATUS
//
// and never returns to Go. The process Start executes forks at once: the
// child is the monitor, in a session of its own, and the parent exits, so
// that no caller is left with a child to reap.
//
// The monitor runs the start command with its stdout and stderr on pipes
// and fd 3 on a report pipe, where the start command writes the
// container's pid as a decimal line (or an error message) before it
// exits. The monitor is a child subreaper, so the container is reparented
// to it. It writes what the container prints to the log in Docker's
// json-file format, records each exit in the exit file, restarts the
// container as the policy says, runs the cleanup command once at the end
// and exits. SIGTERM means "do not restart any more". With a terminal, the
// init sends the pty master to a console socket, and the monitor holds it
// in place of the pipes. Attach clients (attach_linux.h) take the output
// and give input. Memory stays fixed: static buffers, no malloc, no stdio
// streams.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MON_CONFIG_MAX 65536   /* bytes of config */
#define MON_ARGS_MAX 256       /* arguments of each command */
#define MON_LINE_MAX 16384     /* Docker's: longer lines become partial entries */
#define MON_REPORT_MAX 4096    /* bytes kept of the start command's report */
#define MON_LOG_BUF 16384      /* log entries are written in batches of this size */
#define MON_ID_MAX 128
#define MON_FILES_MAX 100
#define MON_PATH_MAX (PATH_MAX - 16) /* room for ".tmp" and ".NNN" */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_LIMIT_MS 60000
#define BACKOFF_RESET_MS 10000 /* a run this long resets the backoff */

enum policy { RESTART_NO, RESTART_ON_FAILURE, RESTART_ALWAYS, RESTART_UNLESS_STOPPED };

static struct {
	char *id;
	char *log;
	long long log_max_size; /* 0: never rotate */
	long long log_max_files;
	char *exit_file;
	int stdin_pipe;
	char *console; /* the console socket: the container has a terminal */
	char *attach;  /* the attach socket */
	enum policy policy;
	long long max_retries; /* on-failure; 0: no limit */
	char *start[MON_ARGS_MAX + 1];
	int nstart;
	char *cleanup[MON_ARGS_MAX + 1];
	int ncleanup;
	char *health[MON_ARGS_MAX + 1]; /* the health check command, run every health_interval ms */
	int nhealth;
	long long health_interval;
	int spawn; /* the caller starts the container: the last descriptor passed is its socket */
} cfg;

struct stream {
	const char *name;
	int type; /* its frame type for attached clients */
	int fd;
	size_t len;
	int partial;                  /* a partial entry was written; more of the line follows */
	struct timespec partial_time; /* Docker stamps every part with the first part's time */
	struct timespec read_time;    /* when the data in buf was last read */
	char *buf;                    /* MON_LINE_MAX bytes */
};

static char cfgbuf[MON_CONFIG_MAX + 1];
/* stdout and stderr pipes, then the terminal, which is logged as stdout */
#define NSTREAMS 3
static struct stream streams[NSTREAMS];
static char stream_bufs[NSTREAMS][MON_LINE_MAX]; /* .bss: pages are used once written */
static char report[MON_REPORT_MAX + 1];
static size_t report_len;
/* A buffered writer. The log's flushes fall between entries (see
 * log_entry), so a failed write can be cut back to whole entries. */
struct out {
	int fd, err;
	size_t len, cap;
	char *buf;
};
static char logbuf[MON_LOG_BUF], filebuf[512];
static struct out logout = {.fd = -1, .buf = logbuf, .cap = sizeof(logbuf)};
static struct out fileout = {.fd = -1, .buf = filebuf, .cap = sizeof(filebuf)};
static char errmsg[MON_REPORT_MAX + 256];

static int status_fd = -1, sig_fd = -1, devnull = -1, report_fd = -1;
static int stdin_r = -1, stdin_w = -1;
static int passed_client = -1; /* a client that came with the config */
static int spawn_fd = -1;       /* the caller's socket, for the first start command (cfg.spawn) */
static int passed[2], npassed;  /* the descriptors that came with the config */
static int console_fd = -1;    /* listens for the terminal while the start command runs */
static int log_fd = -1;
static long long log_size;      /* the log's size, counting the buffered entries */
static long long log_committed; /* its size after the last flush */
static sigset_t empty_set;

static int starting, stop_requested;
static pid_t start_pid, cleanup_pid, container_pid, health_pid;
static int start_done, start_status, cleanup_done, cleanup_status;
static int container_exited, container_status;
static struct timespec container_finished;
static int fail_status; /* the exit status of a start command that failed */

#include "attach_linux.h"

/* ---- status back to the caller of Start ---- */

static void send_status(const char *msg)
{
	size_t n = strlen(msg), off = 0;
	if (status_fd < 0)
		return;
	while (off < n) {
		ssize_t w = send(status_fd, msg + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* the caller is gone; the monitor goes on */
		off += (size_t)w;
	}
	close(status_fd);
	status_fd = -1;
}

/* Reports "error WHAT[: strerror(err)]" and exits, before any child runs. */
static void fail_early(const char *what, int err)
{
	char buf[512];
	if (err)
		snprintf(buf, sizeof(buf), "error %s: %s\n", what, strerror(err));
	else
		snprintf(buf, sizeof(buf), "error %s\n", what);
	send_status(buf);
	_exit(1);
}

/* ---- config ---- */

/* Undoes the Go side's escaping in place: "\\" is a backslash, "\n" a newline. */
static int unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (*r != '\\') {
			*w++ = *r;
			continue;
		}
		r++;
		if (*r == '\\')
			*w++ = '\\';
		else if (*r == 'n')
			*w++ = '\n';
		else
			return -1;
	}
	*w = '\0';
	return 0;
}

static int parse_num(const char *s, long long max, long long *v)
{
	long long n = 0;
	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (n > (max - (*s - '0')) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	*v = n;
	return 0;
}

static int valid_path(const char *s)
{
	size_t n = strnlen(s, MON_PATH_MAX);
	return s[0] == '/' && n < MON_PATH_MAX;
}

static int valid_id(const char *s)
{
	size_t n = strnlen(s, MON_ID_MAX + 1);
	if (n == 0 || n > MON_ID_MAX)
		return 0;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

enum {
	K_ID = 1, K_LOG = 2, K_SIZE = 4, K_FILES = 8, K_EXIT = 16, K_STDIN = 32, K_RESTART = 64,
	K_CONSOLE = 128, K_ATTACH = 256, K_HEALTH_INTERVAL = 512, K_SPAWN = 1024, /* optional */
};
#define K_ALL (K_ID | K_LOG | K_SIZE | K_FILES | K_EXIT | K_STDIN | K_RESTART)

/* A socket's path: absolute, and a name short enough for sockaddr_un
 * when it is reached through /proc/self/fd/N/. */
static int valid_socket_path(const char *s)
{
	const char *slash = strrchr(s, '/');
	return valid_path(s) && slash != NULL && slash[1] != '\0' && strlen(slash + 1) <= 64;
}

static int parse_restart(const char *v)
{
	if (strcmp(v, "no") == 0)
		cfg.policy = RESTART_NO;
	else if (strcmp(v, "always") == 0)
		cfg.policy = RESTART_ALWAYS;
	else if (strcmp(v, "unless-stopped") == 0)
		cfg.policy = RESTART_UNLESS_STOPPED;
	else if (strncmp(v, "on-failure ", 11) == 0 && parse_num(v + 11, INT_MAX, &cfg.max_retries) == 0)
		cfg.policy = RESTART_ON_FAILURE;
	else
		return -1;
	return 0;
}

/* The keys whose value is a string, kept where it is in cfgbuf. */
static const struct {
	const char *key;
	unsigned bit;
	int (*valid)(const char *);
	char **val;
	const char *bad;
} str_keys[] = {
	{"id", K_ID, valid_id, &cfg.id, "has a bad id"},
	{"log", K_LOG, valid_path, &cfg.log, "has a log path that is not absolute or too long"},
	{"exit", K_EXIT, valid_path, &cfg.exit_file, "has an exit path that is not absolute or too long"},
	{"console", K_CONSOLE, valid_socket_path, &cfg.console, "has a bad console socket path"},
	{"attach", K_ATTACH, valid_socket_path, &cfg.attach, "has a bad attach socket path"},
};

/* The keys whose value is a number from min to max. */
static const struct {
	const char *key;
	unsigned bit;
	long long min, max;
	long long *val;
	const char *bad;
} num_keys[] = {
	{"health-interval", K_HEALTH_INTERVAL, 1, INT_MAX, &cfg.health_interval, "has a bad health-interval"},
	{"log-max-size", K_SIZE, 0, LLONG_MAX / 2, &cfg.log_max_size, "has a bad log-max-size"},
	{"log-max-files", K_FILES, 1, MON_FILES_MAX, &cfg.log_max_files, "has a bad log-max-files"},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Sets what key names from val. Returns NULL or what is wrong, and in
 * *bit the key's bit: 0 for the command lines, whose key comes again on
 * each argument's line. */
static const char *parse_key(const char *key, char *val, unsigned *bit)
{
	*bit = 0;
	if (strcmp(key, "start") == 0 || strcmp(key, "cleanup") == 0 || strcmp(key, "health") == 0) {
		char **argv = key[0] == 's' ? cfg.start : key[0] == 'c' ? cfg.cleanup : cfg.health;
		int *n = key[0] == 's' ? &cfg.nstart : key[0] == 'c' ? &cfg.ncleanup : &cfg.nhealth;
		if (*n >= MON_ARGS_MAX)
			return "has too many arguments";
		if (*n == 0 && !valid_path(val))
			return "names a command that is not an absolute path";
		argv[(*n)++] = val;
		return NULL;
	}
	for (size_t i = 0; i < NELEM(str_keys); i++) {
		if (strcmp(key, str_keys[i].key) == 0) {
			*bit = str_keys[i].bit;
			if (!str_keys[i].valid(val))
				return str_keys[i].bad;
			*str_keys[i].val = val;
			return NULL;
		}
	}
	for (size_t i = 0; i < NELEM(num_keys); i++) {
		if (strcmp(key, num_keys[i].key) == 0) {
			*bit = num_keys[i].bit;
			if (parse_num(val, num_keys[i].max, num_keys[i].val) < 0 || *num_keys[i].val < num_keys[i].min)
				return num_keys[i].bad;
			return NULL;
		}
	}
	if (strcmp(key, "stdin") == 0) {
		*bit = K_STDIN;
		if (strcmp(val, "pipe") == 0)
			cfg.stdin_pipe = 1;
		else if (strcmp(val, "null") != 0)
			return "has a bad stdin";
		return NULL;
	}
	if (strcmp(key, "spawn") == 0) {
		*bit = K_SPAWN;
		if (strcmp(val, "1") != 0)
			return "has a bad spawn";
		cfg.spawn = 1;
		return NULL;
	}
	if (strcmp(key, "restart") == 0) {
		*bit = K_RESTART;
		if (parse_restart(val) < 0)
			return "has a bad restart policy";
		return NULL;
	}
	return "has an unknown key";
}

/* Parses cfgbuf[0:len], one "key value" per line, into cfg. The strings
 * stay in cfgbuf. Returns NULL or what is wrong. */
static const char *parse_config(size_t len, int *lineno)
{
	unsigned seen = 0;
	int ended = 0;
	*lineno = 0;
	if (memchr(cfgbuf, '\0', len) != NULL)
		return "holds a NUL byte";
	if (len == 0 || cfgbuf[len - 1] != '\n')
		return "does not end with a newline";
	cfgbuf[len] = '\0';
	for (char *line = cfgbuf; *line;) {
		char *nl = strchr(line, '\n');
		*nl = '\0';
		++*lineno;
		if (ended)
			return "has lines after end";
		char *key = line, *val = strchr(line, ' ');
		line = nl + 1;
		if (val != NULL) {
			*val++ = '\0';
			if (unescape(val) < 0)
				return "has a bad escape";
		}
		if (*lineno == 1) {
			if (strcmp(key, "berth-monitor") != 0 || val == NULL || strcmp(val, "1") != 0)
				return "is not version 1";
			continue;
		}
		if (strcmp(key, "end") == 0) {
			if (val != NULL)
				return "has a value after end";
			ended = 1;
			continue;
		}
		if (val == NULL)
			return "has a key without a value";
		unsigned bit;
		const char *bad = parse_key(key, val, &bit);
		if (bad != NULL)
			return bad;
		if (seen & bit)
			return "repeats a key";
		seen |= bit;
	}
	*lineno = 0; /* what follows is about the whole config */
	if (!ended)
		return "is truncated";
	if ((seen & K_ALL) != K_ALL)
		return "lacks a required key";
	if (cfg.nstart == 0)
		return "has no start command";
	if ((cfg.nhealth > 0) != ((seen & K_HEALTH_INTERVAL) != 0))
		return "has a health command without an interval, or an interval without one";
	cfg.start[cfg.nstart] = NULL;
	cfg.cleanup[cfg.ncleanup] = NULL;
	cfg.health[cfg.nhealth] = NULL;
	return NULL;
}

/* Reads from the config socket like read(2), and takes the descriptors
 * sent along (SCM_RIGHTS): the first attach client, then, with spawn, the
 * caller's socket. More than two is an error. */
static ssize_t read_config_part(char *buf, size_t size)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} u;
	struct iovec iov = {.iov_base = buf, .iov_len = size};
	struct msghdr m;
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof(u.buf);
	ssize_t n = recvmsg(status_fd, &m, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return n;
	int bad = (m.msg_flags & MSG_CTRUNC) != 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (npassed < 2)
				passed[npassed++] = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	if (bad)
		fail_early("config came with unexpected descriptors", 0);
	return n;
}

static void read_config(void)
{
	size_t len = 0;
	for (;;) {
		ssize_t n = read_config_part(cfgbuf + len, MON_CONFIG_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail_early("read config", errno);
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == MON_CONFIG_MAX) {
			char c;
			if (read_config_part(&c, 1) != 0)
				fail_early("config too long", 0);
			break;
		}
	}
	int lineno;
	const char *bad = parse_config(len, &lineno);
	if (bad == NULL && cfg.spawn) {
		if (npassed == 0)
			bad = "asks for spawn without its socket";
		else
			spawn_fd = passed[--npassed];
	}
	if (bad == NULL && npassed > 1)
		bad = "came with unexpected descriptors";
	if (npassed == 1)
		passed_client = passed[0];
	if (bad != NULL) {
		char buf[128];
		if (lineno > 0)
			snprintf(buf, sizeof(buf), "config line %d %s", lineno, bad);
		else
			snprintf(buf, sizeof(buf), "config %s", bad);
		fail_early(buf, 0);
	}
}

/* ---- output: log entries and the exit file ---- */

static void out_flush(struct out *o)
{
	size_t off = 0;
	while (off < o->len && !o->err) {
		ssize_t w = write(o->fd, o->buf + off, o->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			o->err = w < 0 ? errno : EIO;
		else
			off += (size_t)w;
	}
	o->len = 0;
}

static void out_bytes(struct out *o, const char *p, size_t n)
{
	while (n > 0) {
		size_t k = o->cap - o->len;
		if (k > n)
			k = n;
		memcpy(o->buf + o->len, p, k);
		o->len += k;
		p += k;
		n -= k;
		if (o->len == o->cap)
			out_flush(o);
	}
}

static void out_str(struct out *o, const char *s) { out_bytes(o, s, strlen(s)); }

static void out_num(struct out *o, long long v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%lld", v);
	out_bytes(o, buf, (size_t)n);
}

/* Returns the length of the UTF-8 sequence at p, or 0 where Go's
 * utf8.DecodeRune sees an error: overlong forms, surrogates, values past
 * U+10FFFF, and sequences cut short. */
static size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned char b = p[0], lo = 0x80, hi = 0xbf;
	size_t need;
	uint32_t v;
	if (b < 0xc2)
		return 0;
	if (b < 0xe0) {
		need = 2;
		v = b & 0x1f;
	} else if (b < 0xf0) {
		need = 3;
		v = b & 0x0f;
		if (b == 0xe0)
			lo = 0xa0;
		else if (b == 0xed)
			hi = 0x9f;
	} else if (b < 0xf5) {
		need = 4;
		v = b & 0x07;
		if (b == 0xf0)
			lo = 0x90;
		else if (b == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < need || p[1] < lo || p[1] > hi)
		return 0;
	v = v << 6 | (p[1] & 0x3f);
	for (size_t k = 2; k < need; k++) {
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
		v = v << 6 | (p[k] & 0x3f);
	}
	*cp = v;
	return need;
}

/* Writes s[0:n] as the inside of a JSON string exactly as Docker's
 * json-file driver does (and so as Go's encoding/json does): \" \\ \n \r,
 * \u00XX for other control characters and for < > &, \ufffd for each byte
 * that is not valid UTF-8, \u2028 and \u2029. Returns the encoded length;
 * with o NULL it only counts. */
static size_t json_chars(struct out *o, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t len = 0, start = 0, i = 0;
	while (i < n) {
		unsigned char b = s[i];
		char esc[8];
		size_t elen, adv = 1;
		if (b < 0x80) {
			if (b >= 0x20 && b != '\\' && b != '"' && b != '<' && b != '>' && b != '&') {
				i++;
				continue;
			}
			esc[0] = '\\';
			elen = 2;
			if (b == '\\' || b == '"')
				esc[1] = (char)b;
			else if (b == '\n')
				esc[1] = 'n';
			else if (b == '\r')
				esc[1] = 'r';
			else {
				memcpy(esc + 1, "u00", 3);
				esc[4] = hex[b >> 4];
				esc[5] = hex[b & 0xf];
				elen = 6;
			}
		} else {
			uint32_t c = 0;
			size_t size = utf8_seq(s + i, n - i, &c);
			if (size == 0) {
				memcpy(esc, "\\ufffd", 6);
			} else if (c == 0x2028 || c == 0x2029) {
				memcpy(esc, c == 0x2028 ? "\\u2028" : "\\u2029", 6);
				adv = size;
			} else {
				i += size;
				continue;
			}
			elen = 6;
		}
		if (o != NULL) {
			out_bytes(o, str + start, i - start);
			out_bytes(o, esc, elen);
		}
		len += i - start + elen;
		i += adv;
		start = i;
	}
	if (o != NULL)
		out_bytes(o, str + start, n - start);
	return len + n - start;
}

/* Formats t as Go's time.RFC3339Nano in UTC, as Docker writes it: the
 * fraction loses its trailing zeros. Computed here because gmtime_r would
 * load the time zone database into this process. */
static size_t format_time(const struct timespec *t, char buf[48])
{
	long long secs = t->tv_sec < 0 ? 0 : (long long)t->tv_sec;
	long long z = secs / 86400 + 719468, rem = secs % 86400;
	long long era = z / 146097, doe = z - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	long long day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
	long long year = yoe + era * 400 + (month <= 2);
	int n = snprintf(buf, 48, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", year, month, day,
			 rem / 3600, rem / 60 % 60, rem % 60);
	if (n < 0 || n > 30)
		n = 0;
	if (t->tv_nsec > 0 && t->tv_nsec < 1000000000) {
		n += snprintf(buf + n, (size_t)(48 - n), ".%09ld", t->tv_nsec);
		while (buf[n - 1] == '0')
			n--;
	}
	buf[n++] = 'Z';
	buf[n] = '\0';
	return (size_t)n;
}

/* ---- the log ---- */

static void open_log(void)
{
	struct stat st;
	int fd = open(cfg.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return;
	}
	if (log_fd >= 0)
		close(log_fd);
	log_fd = logout.fd = fd;
	log_size = log_committed = st.st_size;
}

/* Writes the entries buffered; on an error, cuts the file back to the
 * last flush, dropping the batch, so that no entry is left torn. */
static void log_flush(void)
{
	out_flush(&logout);
	if (logout.err != 0) {
		if (ftruncate(log_fd, log_committed) < 0) {
			/* the size is unknown now; rotation goes by the count */
		}
		logout.err = 0;
		log_size = log_committed;
	}
	log_committed = log_size;
}

/* Renames log.N-1 to log.N, ..., log to log.1, as Docker does, and opens a
 * new log. With one file allowed, the log is truncated instead. */
static void rotate_log(void)
{
	char from[PATH_MAX], to[PATH_MAX];
	log_flush();
	if (cfg.log_max_files == 1) {
		if (ftruncate(log_fd, 0) == 0)
			log_size = log_committed = 0;
		return;
	}
	for (long long i = cfg.log_max_files - 1; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", cfg.log);
		else
			snprintf(from, sizeof(from), "%s.%lld", cfg.log, i - 1);
		snprintf(to, sizeof(to), "%s.%lld", cfg.log, i);
		if (rename(from, to) < 0 && i == 1 && errno != ENOENT) {
			log_size = log_committed = 0; /* cannot rotate: go on in this file */
			return;
		}
	}
	int old = log_fd;
	open_log();
	if (log_fd == old)
		log_size = log_committed = 0; /* no new file: go on in the renamed one */
}

/* Appends one entry: {"log":"...","stream":"...","time":"..."}. A line cut
 * at MON_LINE_MAX, or left unfinished when the pipe closed, is a partial
 * entry, whose "log" does not end in "\n", as in Docker's json-file. */
static void log_entry(struct stream *s, const char *p, size_t n, int complete)
{
	/* every line of one read gets the read's time, formatted once */
	static struct timespec formatted = {-1, 0};
	static char when[48];
	static size_t tlen;
	struct timespec now = s->partial ? s->partial_time : s->read_time;
	s->partial = !complete;
	s->partial_time = now;
	if (log_fd < 0)
		return;
	if (now.tv_sec != formatted.tv_sec || now.tv_nsec != formatted.tv_nsec) {
		tlen = format_time(&now, when);
		formatted = now;
	}
	size_t len = json_chars(NULL, p, n) + (complete ? 2 : 0) + strlen(s->name) + tlen +
		     strlen("{\"log\":\"\",\"stream\":\"\",\"time\":\"\"}\n");
	if (cfg.log_max_size > 0 && log_size > 0 && log_size + (long long)len > cfg.log_max_size)
		rotate_log();
	else if (logout.len + len > logout.cap)
		log_flush(); /* flushes fall between entries */
	struct out *o = &logout;
	out_str(o, "{\"log\":\"");
	json_chars(o, p, n);
	if (complete)
		out_str(o, "\\n");
	out_str(o, "\",\"stream\":\"");
	out_str(o, s->name);
	out_str(o, "\",\"time\":\"");
	out_bytes(o, when, tlen);
	out_str(o, "\"}\n");
	log_size += (long long)len;
	if (len > logout.cap)
		log_flush(); /* an entry larger than the buffer went out in parts */
}

/* Logs the complete lines in s's buffer; then, when the buffer is full
 * without a newline or the stream ended, the rest as a partial entry. */
static void split_lines(struct stream *s, int eof)
{
	size_t p = 0;
	for (;;) {
		char *nl = memchr(s->buf + p, '\n', s->len - p);
		if (nl == NULL)
			break;
		size_t q = (size_t)(nl - (s->buf + p));
		log_entry(s, s->buf + p, q, 1);
		p += q + 1;
	}
	if (p < s->len && (eof || (p == 0 && s->len == MON_LINE_MAX))) {
		log_entry(s, s->buf + p, s->len - p, 0);
		p = s->len;
	}
	if (p > 0) {
		memmove(s->buf, s->buf + p, s->len - p);
		s->len -= p;
	}
}

static void close_stream(struct stream *s)
{
	split_lines(s, 1);
	log_flush();
	close(s->fd);
	s->fd = -1;
	s->len = 0;
	s->partial = 0;
}

/* Reads once from s, and sends what came to the attached clients. Returns
 * the bytes read, 0 when the pipe is empty, -1 when it has closed. A
 * terminal whose other side every process has closed reads EIO: it has
 * closed too. */
static ssize_t read_stream(struct stream *s)
{
	ssize_t n = read(s->fd, s->buf + s->len, MON_LINE_MAX - s->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		close_stream(s);
		return -1;
	}
	attach_send(s->type, s->buf + s->len, (size_t)n);
	s->len += (size_t)n;
	if (clock_gettime(CLOCK_REALTIME, &s->read_time) < 0)
		memset(&s->read_time, 0, sizeof(s->read_time));
	split_lines(s, 0);
	log_flush();
	return n;
}

/* After the container exited: logs what is left in the pipes, without
 * waiting for writers that outlive it, and closes them. Reading no more
 * than the pipe held keeps a writer that outlives the container (one of a
 * container without a pid namespace of its own) from holding the monitor
 * here. */
static void drain_streams(void)
{
	for (int i = 0; i < NSTREAMS; i++) {
		if (streams[i].fd < 0)
			continue;
		int size = fcntl(streams[i].fd, F_GETPIPE_SZ); /* fails for the terminal */
		long long budget = (size > 0 ? size : 1 << 20) + MON_LINE_MAX;
		ssize_t n;
		while (budget > 0 && streams[i].fd >= 0 && (n = read_stream(&streams[i])) > 0)
			budget -= n;
		if (streams[i].fd >= 0)
			close_stream(&streams[i]);
	}
}

/* ---- the exit file ---- */

static void write_exit_file(int code, int restarts, int restarting, const char *error)
{
	char tmp[PATH_MAX], when[48];
	size_t tlen = format_time(&container_finished, when);
	snprintf(tmp, sizeof(tmp), "%s.tmp", cfg.exit_file);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return; /* the cleanup command may have removed the directory */
	struct out *o = &fileout;
	o->fd = fd;
	o->err = 0;
	o->len = 0;
	out_str(o, "{\"code\":");
	out_num(o, code);
	out_str(o, ",\"finished\":\"");
	out_bytes(o, when, tlen);
	out_str(o, "\",\"restarts\":");
	out_num(o, restarts);
	out_str(o, restarting ? ",\"restarting\":true" : ",\"restarting\":false");
	out_str(o, stop_requested ? ",\"stopped\":true" : ",\"stopped\":false");
	if (error != NULL && *error) {
		out_str(o, ",\"error\":\"");
		json_chars(o, error, strlen(error));
		out_str(o, "\"");
	}
	out_str(o, "}\n");
	out_flush(o);
	if (o->err == 0 && fsync(fd) < 0)
		o->err = errno;
	if (close(fd) < 0 && o->err == 0)
		o->err = errno;
	if (o->err != 0 || rename(tmp, cfg.exit_file) < 0)
		unlink(tmp);
}

/* ---- children ---- */

/* Forks and executes argv with stdin, stdout and stderr on in, out, err
 * and, when report >= 0, fd 3 on report. Every other descriptor of the
 * monitor is close-on-exec. */
/* spawn runs argv with in, outfd and errfd as its stdio and rep, when not
 * -1, as fd 3; and agent, when not -1, as fd 4, for the spawn agent
 * (internal/container/spawn.c), which _BERTH_SPAWN tells to act. */
static pid_t spawn(char *const argv[], int in, int outfd, int errfd, int rep, int agent)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	int fds[5] = {in, outfd, errfd, rep, agent};
	int n = agent >= 0 ? 5 : rep >= 0 ? 4 : 3;
	const char *what = "set up the start command's descriptors";
	/* first above every target, so that no dup2 below clobbers a source */
	for (int i = 0; i < n; i++) {
		fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
		if (fds[i] < 0)
			goto fail;
	}
	for (int i = 0; i < n; i++)
		if (dup2(fds[i], i) < 0)
			goto fail;
	/* a group of its own: a signal to the monitor's group spares the container */
	if (setpgid(0, 0) < 0) {
		what = "setpgid";
		goto fail;
	}
	if (sigprocmask(SIG_SETMASK, &empty_set, NULL) < 0 || signal(SIGPIPE, SIG_DFL) == SIG_ERR) {
		what = "reset signals";
		goto fail;
	}
	if (agent >= 0 && putenv("_BERTH_SPAWN=4") != 0) {
		what = "set _BERTH_SPAWN";
		goto fail;
	}
	execve(argv[0], argv, environ);
	int err = errno;
	char buf[PATH_MAX + 128];
	snprintf(buf, sizeof(buf), "exec %s", argv[0]);
	what = buf;
	errno = err;
fail:
	if (rep >= 0) {
		/* rep, not fd 3, which may still be the monitor's status socket */
		char msg[PATH_MAX + 256];
		int len = snprintf(msg, sizeof(msg), "%s: %s\n", what, strerror(errno));
		if (len > 0 && write(rep, msg, (size_t)len) < 0) {
			/* the monitor reports the exit status instead */
		}
	}
	_exit(127);
}

static void read_report(void)
{
	while (report_fd >= 0) {
		char sink[512];
		char *dst = report_len < MON_REPORT_MAX ? report + report_len : sink;
		size_t room = report_len < MON_REPORT_MAX ? MON_REPORT_MAX - report_len : sizeof(sink);
		ssize_t n = read(report_fd, dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(report_fd);
			report_fd = -1;
			return;
		}
		if (dst != sink)
			report_len += (size_t)n;
	}
}

/* The pid in the report, when the report is a decimal line; else 0. */
static pid_t report_pid(int finished)
{
	long long v;
	char buf[16];
	size_t n = report_len;
	if (n > 0 && report[n - 1] == '\n')
		n--;
	else if (!finished)
		return 0;
	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, report, n);
	buf[n] = '\0';
	if (parse_num(buf, INT_MAX, &v) < 0 || v < 1)
		return 0;
	return (pid_t)v;
}

static void reaped(pid_t pid, int status)
{
	if (pid == start_pid && !start_done) {
		start_done = 1;
		start_status = status;
	} else if (pid == health_pid) {
		health_pid = 0;
	} else if (pid == cleanup_pid && !cleanup_done) {
		cleanup_done = 1;
		cleanup_status = status;
	} else if (pid == container_pid && !container_exited) {
		container_exited = 1;
		container_status = status;
		if (clock_gettime(CLOCK_REALTIME, &container_finished) < 0)
			memset(&container_finished, 0, sizeof(container_finished));
	}
}

/* Reaps every exited child. While starting, a child other than the start
 * command can only be one reparented to the monitor after its parent
 * exited, so the start command has written its report: read it first, so
 * that a container that exits at once is still known as the container. */
static void reap(void)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		if (starting && container_pid == 0 && pid != start_pid) {
			read_report();
			container_pid = report_pid(0);
		}
		reaped(pid, status);
	}
}

static void handle_signals(void)
{
	struct signalfd_siginfo si;
	for (;;) {
		ssize_t n = read(sig_fd, &si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			break;
		if (si.ssi_signo == SIGTERM)
			stop_requested = 1;
	}
	reap();
}

/* Waits up to timeout_ms (-1: no limit) for something to happen: output,
 * the report, a signal, an attach client. Handles what came. While a
 * client has not taken the last output, no more is read. */
static void wait_once(int timeout_ms)
{
	struct pollfd pfd[2 + NSTREAMS + ATTACH_POLLFDS];
	struct stream *which[2 + NSTREAMS] = {NULL};
	int n = 0;
	pfd[n++] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
	for (int i = 0; i < NSTREAMS; i++)
		if (streams[i].fd >= 0 && !attach_busy()) {
			which[n] = &streams[i];
			pfd[n++] = (struct pollfd){.fd = streams[i].fd, .events = POLLIN};
		}
	int rep = -1;
	if (report_fd >= 0) {
		rep = n;
		pfd[n++] = (struct pollfd){.fd = report_fd, .events = POLLIN};
	}
	int first_client = n;
	n += attach_pollfds(pfd + n);
	int r = poll(pfd, (nfds_t)n, attach_timeout(timeout_ms));
	if (r < 0)
		return;
	/* clients first: what they free lets output be read */
	attach_handle(pfd + first_client, n - first_client);
	for (int i = 1; r > 0 && i < first_client; i++) {
		if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (i == rep)
			read_report();
		else if (!attach_busy()) /* else next time, not waiting here */
			read_stream(which[i]);
	}
	if (pfd[0].revents & POLLIN)
		handle_signals();
}

static long long now_ms(void)
{
	struct timespec t;
	if (clock_gettime(CLOCK_MONOTONIC, &t) < 0)
		return 0;
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void describe_status(const char *who, int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "%s exited with status %d", who, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "%s was killed by signal %d", who, WTERMSIG(status));
	else
		snprintf(buf, size, "%s ended with wait status %d", who, status);
}

static int make_pipe(int fds[2], int nonblocking_read)
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	if (nonblocking_read && fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
		int err = errno;
		close(fds[0]);
		close(fds[1]);
		fds[0] = fds[1] = -1;
		errno = err;
		return -1;
	}
	return 0;
}

/* ---- stdin and the terminal ---- */

/* Makes the stdin pipe, unless it is open. The monitor holds its write
 * end, so that the container reads no EOF until a client sends one (then
 * the pipe is closed, and the next start makes a new one). */
static int open_stdin(void)
{
	int p[2];
	if (stdin_w >= 0)
		return 0;
	if (stdin_r >= 0)
		close(stdin_r);
	stdin_r = -1;
	if (make_pipe(p, 0) < 0)
		return -1;
	if (fcntl(p[1], F_SETFL, O_NONBLOCK) < 0) {
		int err = errno;
		close(p[0]);
		close(p[1]);
		errno = err;
		return -1;
	}
	stdin_r = p[0];
	stdin_w = p[1];
	return 0;
}

static void close_console(void)
{
	if (console_fd < 0)
		return;
	close(console_fd);
	console_fd = -1;
	if (unlink(cfg.console) < 0) {
		/* nothing to do: the next start replaces it */
	}
}

/* Takes the terminal that the container's init sent to the console
 * socket, as runc's --console-socket has it: a connection that carries
 * the pty's name as payload and its master as SCM_RIGHTS. The init sends
 * it before it reports ready, so it is there once the start command has
 * succeeded. Returns the master, or -1 with errmsg set. */
static int receive_terminal(void)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} u;
	char name[128];
	struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
	struct msghdr m;
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	int master = -1, ptn;
	int conn = accept4(console_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (conn < 0) {
		snprintf(errmsg, sizeof(errmsg), "the container's terminal did not come: %s", strerror(errno));
		return -1;
	}
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 || cr.uid != geteuid()) {
		close(conn);
		snprintf(errmsg, sizeof(errmsg), "the console socket was connected by another user");
		return -1;
	}
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof(u.buf);
	ssize_t n;
	while ((n = recvmsg(conn, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT)) < 0 && errno == EINTR)
		;
	int err = n < 0 ? errno : 0;
	close(conn);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); n > 0 && c != NULL; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (master < 0)
				master = fd;
			else
				close(fd);
		}
	}
	if (master < 0) {
		snprintf(errmsg, sizeof(errmsg), "the container's terminal did not come: %s",
			 err ? strerror(err) : "no descriptor on the console socket");
		return -1;
	}
	/* a pty master, and nothing else, has a pty number */
	if (ioctl(master, TIOCGPTN, &ptn) < 0 || fcntl(master, F_SETFL, O_NONBLOCK) < 0) {
		close(master);
		snprintf(errmsg, sizeof(errmsg), "the console socket received something that is no terminal");
		return -1;
	}
	return master;
}

static int client_stdin_fd(void)
{
	if (!cfg.stdin_pipe)
		return -1;
	return cfg.console ? streams[2].fd : stdin_w;
}

static int client_tty_fd(void) { return streams[2].fd; }

static void client_close_stdin(void)
{
	if (!cfg.console && stdin_w >= 0) {
		close(stdin_w);
		stdin_w = -1;
	}
}

static void client_signal(int sig)
{
	if (container_pid > 0 && !container_exited && kill(container_pid, sig) < 0) {
		/* it has just exited */
	}
}

/* ---- starting ---- */

static void kill_container(pid_t pid)
{
	int st;
	if (container_exited)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

/* Runs the start command and learns the container's pid. Returns 0, or -1
 * with errmsg set and the start command's output logged. */
static int start_container(void)
{
	int o[2] = {-1, -1}, e[2] = {-1, -1}, r[2] = {-1, -1};
	errmsg[0] = '\0';
	fail_status = 0;
	if (cfg.stdin_pipe && !cfg.console && open_stdin() < 0) {
		snprintf(errmsg, sizeof(errmsg), "stdin pipe: %s", strerror(errno));
		return -1;
	}
	if (cfg.console && (console_fd = listen_unix(cfg.console, 1)) < 0) {
		snprintf(errmsg, sizeof(errmsg), "console socket %s: %s", cfg.console, strerror(errno));
		return -1;
	}
	if (make_pipe(o, 1) < 0 || make_pipe(e, 1) < 0 || make_pipe(r, 1) < 0) {
		snprintf(errmsg, sizeof(errmsg), "pipe: %s", strerror(errno));
		close_console();
		for (int i = 0; i < 2; i++) {
			if (o[i] >= 0)
				close(o[i]);
			if (e[i] >= 0)
				close(e[i]);
		}
		return -1;
	}
	report_len = 0;
	container_pid = 0;
	container_exited = 0;
	start_done = 0;
	starting = 1;
	/* The caller's socket goes to the first start command alone. */
	start_pid = spawn(cfg.start, stdin_r >= 0 && !cfg.console ? stdin_r : devnull, o[1], e[1], r[1], spawn_fd);
	int spawn_err = errno;
	if (spawn_fd >= 0)
		close(spawn_fd);
	spawn_fd = -1;
	close(o[1]);
	close(e[1]);
	close(r[1]);
	streams[0].fd = o[0];
	streams[1].fd = e[0];
	report_fd = r[0];
	if (start_pid < 0) {
		snprintf(errmsg, sizeof(errmsg), "fork: %s", strerror(spawn_err));
		goto fail;
	}
	while (!start_done)
		wait_once(-1);
	/* The report was written before the start command exited; a
	 * container that inherited fd 3 may hold the pipe open, so read what
	 * is there and do not wait for EOF. */
	read_report();
	pid_t pid = report_pid(1);
	if (pid > 0 && container_pid == 0)
		container_pid = pid;
	if (pid <= 0 || container_pid != pid) {
		while (report_len > 0 && (report[report_len - 1] == '\n' || report[report_len - 1] == ' '))
			report_len--;
		report[report_len] = '\0';
		if (report_len > 0)
			snprintf(errmsg, sizeof(errmsg), "%s", report);
		else if (start_status != 0)
			describe_status("start command", start_status, errmsg, sizeof(errmsg));
		else
			snprintf(errmsg, sizeof(errmsg), "start command reported no container pid");
		goto fail;
	}
	/* The pid must be the monitor's child, or its exit would never come. */
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (!container_exited && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
		snprintf(errmsg, sizeof(errmsg), "start command reported pid %d, which is not its child", (int)pid);
		goto fail;
	}
	if (start_status != 0) {
		describe_status("start command", start_status, errmsg, sizeof(errmsg));
		kill_container(pid);
		goto fail;
	}
	if (cfg.console) {
		int master = receive_terminal();
		if (master < 0) {
			kill_container(pid);
			goto fail;
		}
		close_console();
		streams[2].fd = master;
	}
	starting = 0;
	if (report_fd >= 0)
		close(report_fd);
	report_fd = -1;
	return 0;
fail:
	if (start_done && WIFEXITED(start_status))
		fail_status = WEXITSTATUS(start_status);
	starting = 0;
	container_pid = 0;
	close_console();
	if (report_fd >= 0)
		close(report_fd);
	report_fd = -1;
	drain_streams();
	return -1;
}

static void run_cleanup(void)
{
	if (cfg.ncleanup == 0)
		return;
	cleanup_done = 0;
	cleanup_pid = spawn(cfg.cleanup, devnull, devnull, devnull, -1, -1);
	if (cleanup_pid < 0) {
		cleanup_status = 127 << 8;
		return;
	}
	while (!cleanup_done)
		wait_once(-1);
}

/* Waits for the container to exit. With a health check, the check runs
 * every interval while the container runs, one at a time: the command
 * itself bounds each check's time and records its result. */
static void wait_container(void)
{
	long long next = now_ms() + cfg.health_interval;
	while (!container_exited) {
		if (cfg.nhealth == 0) {
			wait_once(-1);
			continue;
		}
		long long now = now_ms();
		if (now >= next) {
			if (health_pid == 0) {
				health_pid = spawn(cfg.health, devnull, devnull, devnull, -1, -1);
				if (health_pid < 0)
					health_pid = 0;
			}
			next = now + cfg.health_interval;
		}
		wait_once((int)(next - now < 1 ? 1 : next - now));
	}
}

static int should_restart(int code, int restarts)
{
	if (stop_requested)
		return 0;
	switch (cfg.policy) {
	case RESTART_ALWAYS:
	case RESTART_UNLESS_STOPPED:
		return 1;
	case RESTART_ON_FAILURE:
		return code != 0 && (cfg.max_retries == 0 || restarts < cfg.max_retries);
	default:
		return 0;
	}
}

static void reset_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL); /* fails harmlessly for the reserved ones */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		fail_early("ignore SIGPIPE", errno);
}

static void close_other_fds(void)
{
	/* close_range(2) closes every descriptor but stdio and the socket */
	if (status_fd > 3 && syscall(SYS_close_range, 3, status_fd - 1, 0) < 0)
		for (int fd = 3; fd < status_fd; fd++)
			close(fd);
	if (syscall(SYS_close_range, status_fd + 1, ~0U, 0) < 0)
		for (int fd = status_fd + 1; fd < 4096; fd++)
			close(fd);
	if (fcntl(status_fd, F_SETFD, FD_CLOEXEC) < 0)
		fail_early("set close-on-exec", errno);
}

static void monitor_main(void)
{
	char ok[64];
	int restarts = 0, code = 0;
	long long backoff = 0;
	const char *error = NULL;

	streams[0].name = streams[2].name = "stdout";
	streams[1].name = "stderr";
	streams[0].type = streams[2].type = F_STDOUT;
	streams[1].type = F_STDERR;
	for (int i = 0; i < NSTREAMS; i++) {
		streams[i].fd = -1;
		streams[i].buf = stream_bufs[i];
	}
	attach_init();
	if (setsid() < 0)
		fail_early("setsid", errno);
	if (chdir("/") < 0)
		fail_early("chdir /", errno);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		fail_early("become a subreaper", errno);
	prctl(PR_SET_NAME, "berth-monitor", 0, 0, 0);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		fail_early("open /dev/null", errno);
	open_log();
	if (log_fd < 0)
		snprintf(errmsg, sizeof(errmsg), "open log %s: %s", cfg.log, strerror(errno));
	if (errmsg[0] == '\0' && cfg.attach && attach_listen(cfg.attach) < 0)
		snprintf(errmsg, sizeof(errmsg), "attach socket %s: %s", cfg.attach, strerror(errno));
	/* the first client takes the output from its first byte */
	if (passed_client >= 0)
		attach_add(passed_client);
	passed_client = -1;

	/* an exit file left by an earlier monitor describes an earlier run */
	if (errmsg[0] == '\0' && unlink(cfg.exit_file) < 0 && errno != ENOENT)
		snprintf(errmsg, sizeof(errmsg), "remove old exit file %s: %s", cfg.exit_file, strerror(errno));

	if (errmsg[0] != '\0' || start_container() < 0) {
		char buf[sizeof(errmsg) + 32];
		attach_unlisten();
		run_cleanup();
		if (fail_status != 0)
			snprintf(buf, sizeof(buf), "fail %d %s\n", fail_status, errmsg);
		else
			snprintf(buf, sizeof(buf), "error %s\n", errmsg);
		send_status(buf);
		_exit(1);
	}
	snprintf(ok, sizeof(ok), "ok %d %d\n", (int)getpid(), (int)container_pid);
	send_status(ok);

	for (;;) {
		long long started = now_ms();
		wait_container();
		drain_streams();
		if (WIFEXITED(container_status))
			code = WEXITSTATUS(container_status);
		else if (WIFSIGNALED(container_status))
			code = 128 + WTERMSIG(container_status);
		else
			code = 255;
		if (!should_restart(code, restarts))
			break;
		write_exit_file(code, restarts, 1, NULL);
		attach_end(code); /* an attachment ends with the run */
		/* Docker's backoff: 100 ms, doubling, back to 100 ms after a run of 10 s */
		if (now_ms() - started >= BACKOFF_RESET_MS)
			backoff = 0;
		backoff = backoff == 0 ? BACKOFF_FIRST_MS : backoff * 2;
		if (backoff > BACKOFF_LIMIT_MS)
			backoff = BACKOFF_LIMIT_MS;
		long long deadline = now_ms() + backoff;
		for (long long left = backoff; left > 0 && !stop_requested; left = deadline - now_ms())
			wait_once((int)left);
		if (stop_requested)
			break;
		if (start_container() < 0) {
			error = errmsg;
			break;
		}
		restarts++;
	}
	/* The cleanup command reads the exit file, so the final exit is
	 * recorded before it runs, and again only if it fails. */
	write_exit_file(code, restarts, 0, error);
	attach_unlisten();
	run_cleanup();
	char why[128];
	if (error == NULL && cfg.ncleanup > 0 && cleanup_status != 0) {
		describe_status("cleanup command", cleanup_status, why, sizeof(why));
		write_exit_file(code, restarts, 0, why);
	}
	/* attached clients learn the code once the cleanup is done, so that
	 * a --rm container is gone when an attached run returns */
	attach_end(code);
	_exit(0);
}

__attribute__((constructor)) static void berth_monitor(void)
{
	const char *env = getenv("_BERTH_MONITOR");
	long long fd;
	if (env == NULL)
		return;
	if (parse_num(env, 65535, &fd) < 0 || fd < 3 || fcntl((int)fd, F_GETFD) < 0)
		_exit(2); /* nowhere to report to: Start sees the exit status */
	status_fd = (int)fd;
	if (unsetenv("_BERTH_MONITOR") < 0)
		fail_early("unsetenv", errno);
	close_other_fds();
	reset_signals();
	read_config();
	if (shutdown(status_fd, SHUT_RD) < 0)
		fail_early("shutdown config socket", errno);

	/* Signals are read from a signalfd; the children get an empty mask. */
	sigset_t mask;
	sigemptyset(&empty_set);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		fail_early("block signals", errno);
	sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0)
		fail_early("signalfd", errno);

	pid_t pid = fork();
	if (pid < 0)
		fail_early("fork", errno);
	if (pid > 0)
		_exit(0); /* the monitor is the child: nobody has to reap it */
	monitor_main();
}
