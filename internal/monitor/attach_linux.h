// The monitor's attach socket: clients (berth attach, an attached run)
// that take the container's output and give its input, in the framed
// protocol the package doc describes.
//
// monitor_linux.c includes this file: the monitor is one translation
// unit, all static, so that the compiler keeps the code that only the
// constructor reaches together, on the few pages every monitor touches.
//
// Memory is fixed: a few clients at once, each a small struct; one output
// frame shared by all of them; one input buffer shared by all of them.
// Output is not queued per client: the monitor reads no more of the
// container's output until every client has taken the last frame, so a
// slow client slows the container down, as a slow terminal would. A
// client that takes nothing for ATTACH_STALL_MS while a frame waits is
// dropped, so that one stuck client cannot stop the container's output
// (and its log) for long. A client beyond ATTACH_CLIENTS gets an error
// frame and is closed.
#include <sys/un.h>
#include <termios.h>

/* The attach protocol's frame types (see the package doc). */
enum {
	F_STDIN = 0,  /* client -> monitor: bytes for the container's stdin */
	F_STDOUT = 1, /* monitor -> client */
	F_STDERR = 2, /* monitor -> client */
	F_ERROR = 3,  /* monitor -> client: why the client is refused */
	F_EXIT = 4,   /* monitor -> client: the exit code; the end */
	F_EOF = 5,    /* client -> monitor: close the container's stdin */
	F_RESIZE = 6, /* client -> monitor: rows and columns of the terminal */
	F_SIGNAL = 7, /* client -> monitor: a signal for the container */
};
#define FRAME_HDR 8

/* Provided by monitor_linux.c. */
static int client_stdin_fd(void);     /* where input goes: the terminal or the stdin pipe; -1: nowhere */
static int client_tty_fd(void);       /* the terminal's master, or -1 */
static void client_close_stdin(void); /* a client's end of input: close the stdin pipe */
static void client_signal(int sig);   /* a client's signal, for the container's init */
static long long now_ms(void);

#define ATTACH_CLIENTS 4
#define ATTACH_STALL_MS 5000
#define ATTACH_INPUT 4096

struct client {
	int fd;                 /* -1: a free slot */
	int in_closed;          /* it sent no more: read nothing more from it */
	size_t sent;            /* bytes of the output frame it has taken */
	long long progress_ms;  /* when it last took some of a waiting frame */
	unsigned char hdr[FRAME_HDR]; /* the header of the frame coming in */
	size_t hdr_len;
	uint32_t left;          /* payload bytes of that frame still to read */
	unsigned char ctl[4];   /* the payload of a control frame */
	size_t ctl_len;
};

static struct client clients[ATTACH_CLIENTS]; /* attach_init frees them */
static int nclients;
static int listen_fd = -1;
static const char *listen_path;

/* The output frame every client is taking: header and payload. */
static char frame[FRAME_HDR + MON_LINE_MAX];
static size_t frame_len;

/* Input read from a client and not yet taken by the container. */
static char input[ATTACH_INPUT];
static size_t input_off, input_len;

/* pollfd entries made by attach_pollfds: what each one is */
#define ATTACH_POLLFDS (ATTACH_CLIENTS + 2)
enum { P_LISTEN = -1, P_INPUT = -2 };
static int poll_what[ATTACH_POLLFDS];

/* Frees the client slots; before anything else here runs. */
static void attach_init(void)
{
	for (int i = 0; i < ATTACH_CLIENTS; i++)
		clients[i].fd = -1;
}

static void put_header(unsigned char *h, int type, uint32_t len)
{
	h[0] = (unsigned char)type;
	h[1] = h[2] = h[3] = 0;
	h[4] = (unsigned char)(len >> 24);
	h[5] = (unsigned char)(len >> 16);
	h[6] = (unsigned char)(len >> 8);
	h[7] = (unsigned char)len;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Makes a listening unix socket at path, mode 0600, replacing what is
 * there. A path too long for sockaddr_un is reached through its
 * directory, opened, in /proc/self/fd (the name itself is short: the
 * config checks it). Returns the socket, non-blocking and close-on-exec,
 * or -1 with errno set. */
static int listen_unix(char *path, int backlog)
{
	struct sockaddr_un sa;
	char *slash = strrchr(path, '/');
	int dirfd = -1, fd = -1, err;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (slash == NULL || slash == path || slash[1] == '\0') {
		errno = EINVAL;
		return -1;
	}
	if (strlen(path) < sizeof(sa.sun_path)) {
		memcpy(sa.sun_path, path, strlen(path));
	} else {
		*slash = '\0'; /* the directory, for a moment */
		dirfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		*slash = '/';
		if (dirfd < 0)
			return -1;
		int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, slash + 1);
		if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
			close(dirfd);
			errno = ENAMETOOLONG;
			return -1;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	/* a socket left by a monitor that was killed */
	if (unlink(sa.sun_path) < 0 && errno != ENOENT)
		goto fail;
	mode_t old = umask(0177); /* the socket is made 0600 */
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, backlog) < 0)
		goto fail;
	if (dirfd >= 0)
		close(dirfd);
	return fd;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	errno = err;
	return -1;
}

/* Starts taking clients on the attach socket at path; 0 or -1 (errno). */
static int attach_listen(char *path)
{
	listen_fd = listen_unix(path, ATTACH_CLIENTS);
	if (listen_fd < 0)
		return -1;
	listen_path = path;
	return 0;
}

/* Stops taking clients and removes the socket; attached ones stay. */
static void attach_unlisten(void)
{
	if (listen_fd < 0)
		return;
	close(listen_fd);
	listen_fd = -1;
	if (unlink(listen_path) < 0) {
		/* nothing to do: a new monitor replaces a socket left behind */
	}
}

static void drop(struct client *c)
{
	close(c->fd);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	nclients--;
}

/* Once every client has taken the frame, the next can be read. */
static void settle(void)
{
	for (int i = 0; i < ATTACH_CLIENTS; i++)
		if (clients[i].fd >= 0 && clients[i].sent < frame_len)
			return;
	frame_len = 0;
}

/* Gives c as much of the frame as its socket takes now. */
static void client_send(struct client *c)
{
	while (c->sent < frame_len) {
		ssize_t n = send(c->fd, frame + c->sent, frame_len - c->sent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			drop(c);
			return;
		}
		c->sent += (size_t)n;
		c->progress_ms = now_ms();
	}
}

static void refuse(int fd, const char *why)
{
	unsigned char h[FRAME_HDR];
	struct iovec iov[2];
	struct msghdr m;
	size_t n = strlen(why);
	put_header(h, F_ERROR, (uint32_t)n);
	iov[0].iov_base = h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)why;
	iov[1].iov_len = n;
	memset(&m, 0, sizeof(m));
	m.msg_iov = iov;
	m.msg_iovlen = 2;
	if (sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* it learns from the closed connection instead */
	}
	close(fd);
}

/* Attaches a connected socket as a client, or refuses it: then it is
 * closed. */
static void attach_add(int fd)
{
	for (int i = 0; i < ATTACH_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd >= 0)
			continue;
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			close(fd);
			return;
		}
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->sent = frame_len; /* it joins with the next frame */
		nclients++;
		return;
	}
	refuse(fd, "too many clients are attached to this container");
}

static void accept_clients(void)
{
	for (int k = 0; k < ATTACH_CLIENTS + 1; k++) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0)
			return;
		/* the socket is 0600; this holds even if its mode were changed */
		struct ucred cr;
		socklen_t len = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || cr.uid != geteuid()) {
			close(fd);
			continue;
		}
		attach_add(fd);
	}
}

/* Gives the container what is in the input buffer, as far as it takes it
 * now; input it cannot take (its stdin closed, or none) is dropped. */
static void input_flush(void)
{
	int fd = client_stdin_fd();
	while (input_off < input_len) {
		if (fd < 0)
			break;
		ssize_t n = write(fd, input + input_off, input_len - input_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0)
			break;
		input_off += (size_t)n;
	}
	input_off = input_len = 0;
}

/* Acts on a control frame that c has read whole. Returns -1 when the
 * frame is not one the protocol has. */
static int control(struct client *c)
{
	int type = c->hdr[0];
	uint32_t v = get_be32(c->ctl);
	switch (type) {
	case F_EOF:
		client_close_stdin();
		return 0;
	case F_RESIZE: {
		int tty = client_tty_fd();
		struct winsize ws;
		memset(&ws, 0, sizeof(ws));
		ws.ws_row = (unsigned short)(v >> 16);
		ws.ws_col = (unsigned short)v;
		if (tty >= 0 && ioctl(tty, TIOCSWINSZ, &ws) < 0) {
			/* the terminal is gone with the container */
		}
		return 0;
	}
	case F_SIGNAL:
		if (v < 1 || v >= (uint32_t)NSIG)
			return -1;
		client_signal((int)v);
		return 0;
	}
	return -1;
}

/* Reads what c sent, while the input buffer is free. */
static void client_read(struct client *c)
{
	for (int k = 0; k < 16 && c->fd >= 0 && !c->in_closed && input_len == 0; k++) {
		ssize_t n;
		if (c->hdr_len < FRAME_HDR) {
			n = recv(c->fd, c->hdr + c->hdr_len, FRAME_HDR - c->hdr_len, MSG_DONTWAIT);
		} else if (c->hdr[0] == F_STDIN) {
			size_t want = c->left < sizeof(input) ? c->left : sizeof(input);
			n = recv(c->fd, input, want, MSG_DONTWAIT);
		} else {
			n = recv(c->fd, c->ctl + c->ctl_len, c->left, MSG_DONTWAIT);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			drop(c);
			return;
		}
		if (n == 0) {
			c->in_closed = 1; /* it may still take output */
			return;
		}
		if (c->hdr_len < FRAME_HDR) {
			c->hdr_len += (size_t)n;
			if (c->hdr_len < FRAME_HDR)
				continue;
			int type = c->hdr[0];
			uint32_t len = get_be32(c->hdr + 4);
			int ok = c->hdr[1] == 0 && c->hdr[2] == 0 && c->hdr[3] == 0;
			if (type == F_EOF)
				ok = ok && len == 0;
			else if (type == F_RESIZE || type == F_SIGNAL)
				ok = ok && len == 4;
			else
				ok = ok && type == F_STDIN;
			if (!ok) {
				drop(c); /* not the protocol */
				return;
			}
			c->left = len;
			c->ctl_len = 0;
		} else if (c->hdr[0] == F_STDIN) {
			c->left -= (uint32_t)n;
			input_off = 0;
			input_len = (size_t)n;
			input_flush();
		} else {
			c->ctl_len += (size_t)n;
			c->left -= (uint32_t)n;
		}
		if (c->left == 0) {
			if (c->hdr[0] != F_STDIN && control(c) < 0) {
				drop(c);
				return;
			}
			c->hdr_len = 0;
		}
	}
}

/* Whether an output frame waits for a client to take it: until it has,
 * the monitor reads no more output. */
static int attach_busy(void) { return frame_len > 0; }

/* Fills pfd (room for ATTACH_POLLFDS) with what the clients wait for:
 * new clients, input to read, output to send, the container's stdin to
 * take input. Returns how many entries. */
static int attach_pollfds(struct pollfd *pfd)
{
	int n = 0;
	if (listen_fd >= 0) {
		poll_what[n] = P_LISTEN;
		pfd[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
	}
	if (input_len > 0) {
		int fd = client_stdin_fd();
		if (fd < 0) {
			input_off = input_len = 0;
		} else {
			poll_what[n] = P_INPUT;
			pfd[n++] = (struct pollfd){.fd = fd, .events = POLLOUT};
		}
	}
	for (int i = 0; i < ATTACH_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd < 0)
			continue;
		short ev = 0;
		if (!c->in_closed && input_len == 0)
			ev |= POLLIN;
		if (c->sent < frame_len)
			ev |= POLLOUT;
		/* with no events, poll still reports the hangup */
		poll_what[n] = i;
		pfd[n++] = (struct pollfd){.fd = c->fd, .events = ev};
	}
	return n;
}

/* The earliest time at which a client that takes nothing is dropped; -1: none. */
static long long next_deadline(void)
{
	long long d = -1;
	for (int i = 0; i < ATTACH_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd >= 0 && c->sent < frame_len) {
			long long t = c->progress_ms + ATTACH_STALL_MS;
			if (d < 0 || t < d)
				d = t;
		}
	}
	return d;
}

/* Caps a poll timeout (-1: none) at the time the next stalled client is
 * dropped. */
static int attach_timeout(int timeout_ms)
{
	long long d = next_deadline();
	if (d < 0)
		return timeout_ms;
	long long left = d - now_ms();
	if (left < 0)
		left = 0;
	if (timeout_ms < 0 || left < timeout_ms)
		return (int)left;
	return timeout_ms;
}

static void drop_stalled(void)
{
	long long now = now_ms();
	for (int i = 0; i < ATTACH_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd >= 0 && c->sent < frame_len && now - c->progress_ms >= ATTACH_STALL_MS)
			drop(c);
	}
	settle();
}

/* Handles what poll returned for the n entries attach_pollfds made, and
 * drops the clients that have stalled too long. */
static void attach_handle(const struct pollfd *pfd, int n)
{
	for (int i = 0; i < n; i++) {
		short re = pfd[i].revents;
		int what = poll_what[i];
		if (re == 0)
			continue;
		if (what == P_LISTEN) {
			accept_clients();
		} else if (what == P_INPUT) {
			input_flush();
		} else {
			struct client *c = &clients[what];
			if (c->fd != pfd[i].fd)
				continue; /* dropped and its slot taken meanwhile */
			if (re & POLLOUT)
				client_send(c);
			if (c->fd >= 0 && (re & POLLIN))
				client_read(c);
			if (c->fd >= 0 && (re & (POLLHUP | POLLERR | POLLNVAL)))
				drop(c);
		}
	}
	drop_stalled();
}

/* Waits until every client has taken the frame, or has been dropped. */
static void flush_wait(void)
{
	while (frame_len > 0) {
		struct pollfd pfd[ATTACH_CLIENTS];
		int idx[ATTACH_CLIENTS], n = 0;
		for (int i = 0; i < ATTACH_CLIENTS; i++)
			if (clients[i].fd >= 0 && clients[i].sent < frame_len) {
				idx[n] = i;
				pfd[n++] = (struct pollfd){.fd = clients[i].fd, .events = POLLOUT};
			}
		if (n == 0) {
			frame_len = 0;
			return;
		}
		int r = poll(pfd, (nfds_t)n, attach_timeout(-1));
		if (r < 0 && errno != EINTR) {
			for (int i = 0; i < n; i++)
				drop(&clients[idx[i]]);
		}
		for (int i = 0; r > 0 && i < n; i++) {
			struct client *c = &clients[idx[i]];
			if (pfd[i].revents & POLLOUT)
				client_send(c);
			else if (pfd[i].revents & (POLLHUP | POLLERR | POLLNVAL))
				drop(c);
		}
		drop_stalled();
	}
}

/* Makes p[0:n] the frame every client is to take, once they have taken
 * the one before, and gives each what its socket takes now. */
static void broadcast(int type, const char *p, size_t n)
{
	if (nclients == 0)
		return;
	flush_wait();
	if (n > sizeof(frame) - FRAME_HDR)
		n = sizeof(frame) - FRAME_HDR;
	put_header((unsigned char *)frame, type, (uint32_t)n);
	memcpy(frame + FRAME_HDR, p, n);
	frame_len = FRAME_HDR + n;
	long long now = now_ms();
	for (int i = 0; i < ATTACH_CLIENTS; i++) {
		struct client *c = &clients[i];
		if (c->fd < 0)
			continue;
		c->sent = 0;
		c->progress_ms = now;
		client_send(c);
	}
	settle();
}

/* Sends output of a stream (F_STDOUT, F_STDERR) to every client, first
 * waiting until they have taken the frame before. */
static void attach_send(int stream, const char *p, size_t n)
{
	while (n > 0 && nclients > 0) {
		size_t k = n < MON_LINE_MAX ? n : MON_LINE_MAX;
		broadcast(stream, p, k);
		p += k;
		n -= k;
	}
}

/* Sends every client the exit code once it has taken the output before,
 * and closes it. */
static void attach_end(int code)
{
	unsigned char v[4];
	uint32_t u = (uint32_t)code;
	v[0] = (unsigned char)(u >> 24);
	v[1] = (unsigned char)(u >> 16);
	v[2] = (unsigned char)(u >> 8);
	v[3] = (unsigned char)u;
	broadcast(F_EXIT, (const char *)v, sizeof(v));
	flush_wait();
	for (int i = 0; i < ATTACH_CLIENTS; i++)
		if (clients[i].fd >= 0)
			drop(&clients[i]);
	input_off = input_len = 0;
}
