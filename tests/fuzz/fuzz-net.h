/*
 * fuzz-net.h - a scripted server for the network targets: the input is
 * everything the server says.  A thread accepts one connection on a
 * loopback port, sends the input, half-closes and reads whatever the
 * client sends until it hangs up (so no reset loses buffered bytes).
 * The client side is the real code: mbi_conn_* over TCP.
 */
#ifndef FUZZ_NET_H
#define FUZZ_NET_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "fuzz.h"

struct fuzz_srv {
	int lfd;
	int port;
	const uint8_t *data;
	size_t size;
	atomic_bool done;
	pthread_t th;
};

static void *
fuzz_srv_main(void *arg)
{
	struct fuzz_srv *s = arg;
	struct pollfd pfd = {s->lfd, POLLIN, 0};
	char sink[4096];
	size_t off = 0;
	ssize_t n;
	int fd = -1;

	while (!atomic_load(&s->done)) {
		if (poll(&pfd, 1, 20) > 0) {
			fd = accept(s->lfd, NULL, NULL);
			break;
		}
	}
	if (fd < 0)
		return NULL;
	while (off < s->size) {
		n = send(fd, s->data + off, s->size - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	while (recv(fd, sink, sizeof(sink), 0) > 0)
		;
	close(fd);
	return NULL;
}

/* Start serving data on a loopback port (s->port). */
static inline void
fuzz_srv_start(struct fuzz_srv *s, const uint8_t *data, size_t size)
{
	static int lfd = -1, port;
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	signal(SIGPIPE, SIG_IGN);
	if (lfd < 0) {
		lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    listen(lfd, 8) < 0 ||
		    getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
			perror("fuzz server");
			abort();
		}
		port = ntohs(a.sin_port);
	}
	s->lfd = lfd;
	s->port = port;
	s->data = data;
	s->size = size;
	atomic_store(&s->done, false);
	if (pthread_create(&s->th, NULL, fuzz_srv_main, s) != 0)
		abort();
}

/* The client is done (its connection closed): wait for the thread. */
static inline void
fuzz_srv_stop(struct fuzz_srv *s)
{
	atomic_store(&s->done, true);
	pthread_join(s->th, NULL);
}

/*
 * One client session as `mailbag fetch` drives it, against a server that
 * answers with the input: open "{127.0.0.1:PORT/OPTS/notls/user=fuzz}INBOX"
 * (OPTS: "imap" or "pop3"), scan, read every message, delete the first,
 * expunge, commit.
 */
static inline void
fuzz_remote_session(const uint8_t *data, size_t size, const char *proto)
{
	static char buf[8192];
	struct fuzz_srv srv;
	struct mb_ctx *ctx;
	struct mb_box *box = NULL;
	struct mb_msg *m;
	struct mb_reader *r;
	struct mb_err e;
	char name[128];
	uint32_t n = 0, gone;
	int rc;

	ctx = mb_ctx_new();
	if (ctx == NULL)
		return;
	setenv("MAILBAG_FUZZ_PASS", "secret", 1);
	mb_ctx_set(ctx, "password-env", "MAILBAG_FUZZ_PASS", &e);
	mb_ctx_set(ctx, "plaintext-auth", "yes", &e);
	mb_ctx_set(ctx, "net-timeout", "5", &e);
	fuzz_srv_start(&srv, data, size);
	snprintf(name, sizeof(name), "{127.0.0.1:%d/%s/notls/user=fuzz}INBOX",
		 srv.port, proto);
	if (mb_open(ctx, name, NULL, MB_RDWR, &box, &e) == MB_OK) {
		while ((rc = mb_next(box, &m, &e)) != MB_END && rc != MB_FATAL) {
			if (rc != MB_OK)
				continue;
			n++;
			if (mb_msg_open(box, m, &r, &e) != MB_OK)
				continue;
			while (mb_reader_read(r, buf, sizeof(buf), &e) > 0)
				;
			mb_reader_close(&r);
		}
		if (n > 0)
			mb_set_flags(box, 1, MB_DELETED, 0, 0, 0, &e);
		if (mb_expunge(box, &gone, &e) != MB_FATAL)
			mb_close(&box, &e);
		else
			mb_abort(&box);
	}
	fuzz_srv_stop(&srv);
	mb_ctx_free(&ctx);
}

#endif /* FUZZ_NET_H */
