/*
 * net.c - remote mailboxes: UW's "{host...}MAILBOX" names, the remote
 * settings of the context, TCP connections with timeouts and TLS through
 * OpenSSL (certificates and host names verified against the system's CA
 * store or the "ca-file" setting), and the credentials (a file, a file
 * descriptor, an environment variable or a command; never argv).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "formats.h"
#include "lazy.h"
#include "net.h"

/* ------------------------------------------------------------------ */
/* Names                                                                */

static bool
flag_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

/* A flag's value: quoted with backslash escapes, or up to "/" or "}". */
static int
flag_value(const char **pp, const char *end, char *out, size_t size)
{
	const char *p = *pp;
	size_t n = 0;

	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			if (n + 1 >= size)
				return -1;
			out[n++] = *p;
		}
		if (p >= end)
			return -1;
		p++;
	} else {
		for (; p < end && *p != '/'; p++) {
			if (n + 1 >= size)
				return -1;
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	*pp = p;
	return n > 0 ? 0 : -1;
}

int
mbi_remote_parse(const char *name, struct mbi_remote *r, struct mb_err *e)
{
	const char *p, *end, *hs, *he;
	bool have_svc = false;
	size_t n;

	memset(r, 0, sizeof(*r));
	r->service = MBI_SVC_IMAP;
	if (name == NULL || name[0] != '{')
		return mbi_err(e, MB_FAILED, MB_EINVAL, name, -1,
			       "not a remote mailbox name");
	/* the spec ends at the first "}" outside quotes */
	for (end = name + 1; *end && *end != '}'; end++)
		if (*end == '"') {
			for (end++; *end && *end != '"'; end++)
				if (*end == '\\' && end[1])
					end++;
			if (*end == '\0') /* an unterminated quote */
				break;
		}
	if (*end != '}')
		return mbi_err(e, MB_FAILED, MB_EINVAL, name, -1,
			       "remote name lacks its closing '}'");
	p = name + 1;
	if (*p == '[') {
		hs = ++p;
		while (p < end && *p != ']')
			p++;
		if (p >= end)
			return mbi_err(e, MB_FAILED, MB_EINVAL, name, -1,
				       "unterminated '[' address");
		he = p++;
	} else {
		hs = p;
		while (p < end && *p != ':' && *p != '/')
			p++;
		he = p;
	}
	n = (size_t)(he - hs);
	if (n == 0 || n >= sizeof(r->host))
		return mbi_err(e, MB_FAILED, MB_EINVAL, name, -1,
			       "bad host in remote name");
	memcpy(r->host, hs, n);
	r->host[n] = '\0';
	if (p < end && *p == ':') {
		long port = 0;

		for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
			port = port * 10 + (*p - '0');
			if (port > 65535)
				break;
		}
		if (port <= 0 || port > 65535 || (p < end && *p != '/'))
			return mbi_err(e, MB_FAILED, MB_EINVAL, name, -1,
				       "bad port in remote name");
		r->port = (int)port;
	}
	while (p < end) {
		const char *f, *eq;
		char svc[16];

		if (*p != '/')
			return mbi_err(e, MB_FAILED, MB_EINVAL, name, p - name,
				       "bad remote name syntax");
		f = ++p;
		while (p < end && *p != '/' && *p != '=')
			p++;
		n = (size_t)(p - f);
		eq = p < end && *p == '=' ? p : NULL;
		if (eq != NULL) {
			char *dst;
			size_t dsz;

			p++;
			if (flag_is(f, n, "user")) {
				dst = r->user;
				dsz = sizeof(r->user);
			} else if (flag_is(f, n, "authuser")) {
				dst = r->authuser;
				dsz = sizeof(r->authuser);
			} else if (flag_is(f, n, "service")) {
				if (flag_value(&p, end, svc, sizeof(svc)) < 0)
					goto bad_value;
				f = svc;
				n = strlen(svc);
				goto service;
			} else {
				return mbi_err(e, MB_FAILED, MB_EINVAL, name,
					       f - name,
					       "unknown flag '/%.*s' in remote "
					       "name",
					       (int)n, f);
			}
			if (flag_value(&p, end, dst, dsz) < 0)
				goto bad_value;
			continue;
		}
service:
		if (flag_is(f, n, "imap") || flag_is(f, n, "imap2") ||
		    flag_is(f, n, "imap2bis") || flag_is(f, n, "imap4") ||
		    flag_is(f, n, "imap4rev1") || flag_is(f, n, "pop3") ||
		    flag_is(f, n, "pop")) {
			if (have_svc)
				return mbi_err(e, MB_FAILED, MB_EINVAL, name,
					       -1,
					       "more than one service in "
					       "remote name");
			have_svc = true;
			r->service = (f[0] == 'p' || f[0] == 'P') ?
					     MBI_SVC_POP3 :
					     MBI_SVC_IMAP;
		} else if (flag_is(f, n, "nntp") || flag_is(f, n, "smtp") ||
			   flag_is(f, n, "submit")) {
			return mbi_err(e, MB_FAILED, MB_ENOTSUP, name, -1,
				       "service '%.*s' is not supported",
				       (int)n, f);
		} else if (flag_is(f, n, "ssl")) {
			if (r->tls)
				return mbi_err(e, MB_FAILED, MB_EINVAL, name,
					       -1, "/ssl after /tls");
			r->ssl = true;
			r->notls = true;
		} else if (flag_is(f, n, "tls")) {
			if (r->notls)
				return mbi_err(e, MB_FAILED, MB_EINVAL, name,
					       -1,
					       "/tls and /notls exclude "
					       "each other");
			r->tls = true;
		} else if (flag_is(f, n, "notls")) {
			if (r->tls)
				return mbi_err(e, MB_FAILED, MB_EINVAL, name,
					       -1,
					       "/tls and /notls exclude "
					       "each other");
			r->notls = true;
		} else if (flag_is(f, n, "novalidate-cert")) {
			r->novalidate = true;
		} else if (flag_is(f, n, "validate-cert") ||
			   flag_is(f, n, "norsh") || flag_is(f, n, "loser") ||
			   flag_is(f, n, "debug") ||
			   flag_is(f, n, "tls-sslv23") ||
			   flag_is(f, n, "tryssl")) {
			/* accepted, no effect here */
		} else if (flag_is(f, n, "secure")) {
			r->secure = true;
		} else if (flag_is(f, n, "anonymous")) {
			r->anonymous = true;
		} else if (flag_is(f, n, "readonly")) {
			r->readonly = true;
		} else {
			return mbi_err(e, MB_FAILED, MB_EINVAL, name, f - name,
				       "unknown flag '/%.*s' in remote name",
				       (int)n, f);
		}
	}
	r->spec_len = (size_t)(end - name) + 1;
	snprintf(r->mailbox, sizeof(r->mailbox), "%s",
		 end[1] ? end + 1 : "INBOX");
	if (strlen(end + 1) >= sizeof(r->mailbox))
		return mbi_err(e, MB_FAILED, MB_EINVAL, name, -1,
			       "remote mailbox name too long");
	return MB_OK;
bad_value:
	return mbi_err(e, MB_FAILED, MB_EINVAL, name, -1,
		       "bad flag value in remote name");
}

const struct mb_driver *
mbi_remote_driver(const char *name, struct mb_err *e)
{
	struct mbi_remote r;

	if (name == NULL || name[0] != '{')
		return NULL;
	if (mbi_remote_parse(name, &r, e) != MB_OK)
		return NULL;
	return r.service == MBI_SVC_POP3 ? &mbi_driver_pop3 : &mbi_driver_imap;
}

/* ------------------------------------------------------------------ */
/* Settings                                                             */

void
mbi_net_defaults(struct mbi_netconf *nc)
{
	memset(nc, 0, sizeof(*nc));
	nc->timeout = 60;
	nc->pass_fd = -1;
}

static int
set_str(char *dst, size_t size, const char *v, const char *name,
	struct mb_err *e)
{
	if (strlen(v) >= size)
		return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
			       "value of '%s' too long", name);
	snprintf(dst, size, "%s", v);
	return MB_OK;
}

int
mbi_net_set(struct mb_ctx *ctx, const char *name, const char *value,
	    struct mb_err *e)
{
	struct mbi_netconf *nc = &ctx->net;
	char *end;
	long n;

	if (strcasecmp(name, "ca-file") == 0)
		return set_str(nc->ca_file, sizeof(nc->ca_file), value, name,
			       e);
	if (strcasecmp(name, "password-file") == 0)
		return set_str(nc->pass_file, sizeof(nc->pass_file), value,
			       name, e);
	if (strcasecmp(name, "password-env") == 0)
		return set_str(nc->pass_env, sizeof(nc->pass_env), value, name,
			       e);
	if (strcasecmp(name, "password-command") == 0)
		return set_str(nc->pass_cmd, sizeof(nc->pass_cmd), value, name,
			       e);
	if (strcasecmp(name, "oauth-command") == 0)
		return set_str(nc->oauth_cmd, sizeof(nc->oauth_cmd), value,
			       name, e);
	if (strcasecmp(name, "auth-mechanism") == 0) {
		if (value[0] && mbi_sasl_by_name(value) == MBI_SASL_NONE &&
		    strcasecmp(value, "login-command") != 0 &&
		    strcasecmp(value, "apop") != 0 &&
		    strcasecmp(value, "user") != 0)
			return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
				       "unknown auth-mechanism '%s'", value);
		return set_str(nc->mech, sizeof(nc->mech), value, name, e);
	}
	if (strcasecmp(name, "plaintext-auth") == 0) {
		if (strcasecmp(value, "yes") == 0 || strcmp(value, "1") == 0 ||
		    strcasecmp(value, "true") == 0)
			nc->plaintext = true;
		else if (strcasecmp(value, "no") == 0 ||
			 strcmp(value, "0") == 0 ||
			 strcasecmp(value, "false") == 0)
			nc->plaintext = false;
		else
			return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
				       "bad value '%s' for '%s'", value, name);
		return MB_OK;
	}
	if (strcasecmp(name, "net-timeout") == 0 ||
	    strcasecmp(name, "password-fd") == 0) {
		errno = 0;
		n = strtol(value, &end, 10);
		if (errno || end == value || *end || n < 0 || n > 86400 ||
		    (n == 0 && name[0] == 'n'))
			return mbi_err(e, MB_FAILED, MB_EINVAL, NULL, -1,
				       "bad value '%s' for '%s'", value, name);
		if (name[0] == 'n' || name[0] == 'N')
			nc->timeout = (int)n;
		else
			nc->pass_fd = (int)n;
		return MB_OK;
	}
	return 1;
}

const char *
mbi_net_get(const struct mb_ctx *ctx, const char *name)
{
	const struct mbi_netconf *nc = &ctx->net;

	if (strcasecmp(name, "ca-file") == 0)
		return nc->ca_file;
	if (strcasecmp(name, "plaintext-auth") == 0)
		return nc->plaintext ? "yes" : "no";
	if (strcasecmp(name, "auth-mechanism") == 0)
		return nc->mech;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */

struct mbi_conn {
	int fd;
	int timeout;
	SSL_CTX *sctx;
	SSL *ssl;
	bool novalidate;
	bool dead; /* an I/O or TLS step failed */
	char host[256];
	char ca_file[PATH_MAX];
	char name[300]; /* "host:port", for messages */
	char rbuf[16384];
	size_t rpos, rlen;
};

static bool
is_ip(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 ||
	       inet_pton(AF_INET6, host, a) == 1;
}

static int
tcp_connect(struct mbi_conn *c, int port, struct mb_err *e)
{
	struct addrinfo hints, *res, *ai;
	char portstr[16];
	int fd = -1, err = 0, rc;
	struct timeval tv;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(c->host, portstr, &hints, &res);
	if (rc != 0)
		return mbi_err(e, MB_FAILED,
			       rc == EAI_AGAIN ? MB_ENET : MB_ENET, c->name, -1,
			       "cannot resolve host: %s", gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t len = sizeof(err);

		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		if (err == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			do
				rc = poll(&pfd, 1, c->timeout * 1000);
			while (rc < 0 && errno == EINTR);
			if (rc == 0) {
				err = ETIMEDOUT;
			} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
					      &len) == 0 &&
				   err == 0) {
				break;
			}
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return mbi_err(e, MB_FAILED, MB_ENET, c->name, -1,
			       "cannot connect: %s", strerror(err));
	/* blocking from now on, every read and write bounded in time */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	tv.tv_sec = c->timeout;
	tv.tv_usec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	rc = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &rc, sizeof(rc));
	c->fd = fd;
	return MB_OK;
}

static int
tls_err(struct mbi_conn *c, const char *what, struct mb_err *e)
{
	unsigned long ec = ERR_get_error();
	char buf[256];
	long vr;

	c->dead = true;
	if (c->ssl != NULL && (vr = SSL_get_verify_result(c->ssl)) != X509_V_OK)
		return mbi_err(e, MB_FAILED, MB_ETLS, c->name, -1,
			       "certificate verification failed: %s",
			       X509_verify_cert_error_string(vr));
	if (ec == 0)
		return mbi_err(e, MB_FAILED,
			       errno == EAGAIN ? MB_ENET : MB_ETLS, c->name, -1,
			       "%s: %s", what,
			       errno == EAGAIN ? "timed out" :
			       errno	       ? strerror(errno) :
						 "connection closed");
	ERR_error_string_n(ec, buf, sizeof(buf));
	ERR_clear_error();
	return mbi_err(e, MB_FAILED, MB_ETLS, c->name, -1, "%s: %s", what, buf);
}

int
mbi_conn_starttls(struct mbi_conn *c, struct mb_err *e)
{
	X509_VERIFY_PARAM *vp;

	ERR_clear_error();
	c->sctx = SSL_CTX_new(TLS_client_method());
	if (c->sctx == NULL)
		return tls_err(c, "cannot set up TLS", e);
	SSL_CTX_set_min_proto_version(c->sctx, TLS1_2_VERSION);
	if (c->novalidate) {
		SSL_CTX_set_verify(c->sctx, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(c->sctx, SSL_VERIFY_PEER, NULL);
		if (c->ca_file[0] ?
			    SSL_CTX_load_verify_locations(c->sctx, c->ca_file,
							  NULL) != 1 :
			    SSL_CTX_set_default_verify_paths(c->sctx) != 1) {
			ERR_clear_error();
			return mbi_err(e, MB_FAILED, MB_ETLS, c->name, -1,
				       "cannot load CA certificates%s%s",
				       c->ca_file[0] ? " from " : "",
				       c->ca_file);
		}
	}
	c->ssl = SSL_new(c->sctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return tls_err(c, "cannot set up TLS", e);
	if (!is_ip(c->host))
		SSL_set_tlsext_host_name(c->ssl, c->host);
	if (!c->novalidate) {
		vp = SSL_get0_param(c->ssl);
		X509_VERIFY_PARAM_set_hostflags(
			vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (is_ip(c->host) ?
			    X509_VERIFY_PARAM_set1_ip_asc(vp, c->host) != 1 :
			    X509_VERIFY_PARAM_set1_host(vp, c->host, 0) != 1)
			return tls_err(c, "cannot set up TLS", e);
	}
	errno = 0;
	if (SSL_connect(c->ssl) != 1)
		return tls_err(c, "TLS handshake failed", e);
	/* the buffered plain bytes belong to the old stream: none may be
	 * left (a server that sends before the handshake is broken) */
	c->rpos = c->rlen = 0;
	return MB_OK;
}

int
mbi_conn_open(struct mb_ctx *ctx, const struct mbi_remote *r, int defport,
	      int ssl_port, struct mbi_conn **out, struct mb_err *e)
{
	struct mbi_conn *c;
	int port = r->port ? r->port : r->ssl ? ssl_port : defport;
	int rc;

	*out = NULL;
	/* OpenSSL for every connection: STARTTLS is taken whenever offered */
	if (mbi_lazy_load(MBI_LAZY_SSL, e) != MB_OK)
		return MB_FAILED;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return mbi_err(e, MB_FATAL, MB_ENOMEM, NULL, -1,
			       "out of memory");
	c->fd = -1;
	c->timeout = ctx->net.timeout > 0 ? ctx->net.timeout : 60;
	c->novalidate = r->novalidate;
	snprintf(c->host, sizeof(c->host), "%s", r->host);
	snprintf(c->ca_file, sizeof(c->ca_file), "%s", ctx->net.ca_file);
	snprintf(c->name, sizeof(c->name),
		 strchr(r->host, ':') ? "[%s]:%d" : "%s:%d", r->host, port);
	/* a peer that closes must not kill us with SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	rc = tcp_connect(c, port, e);
	if (rc == MB_OK && r->ssl)
		rc = mbi_conn_starttls(c, e);
	if (rc != MB_OK) {
		mbi_conn_close(&c);
		return rc;
	}
	*out = c;
	return MB_OK;
}

bool
mbi_conn_ok(const struct mbi_conn *c)
{
	return c != NULL && !c->dead;
}

bool
mbi_conn_tls(const struct mbi_conn *c)
{
	return c->ssl != NULL;
}

const char *
mbi_conn_name(const struct mbi_conn *c)
{
	return c->name;
}

static int
io_err(struct mbi_conn *c, int err, const char *what, struct mb_err *e)
{
	c->dead = true;
	if (err == EAGAIN || err == EWOULDBLOCK)
		return mbi_err(e, MB_FATAL, MB_ENET, c->name, -1,
			       "%s: timed out after %d seconds", what,
			       c->timeout);
	if (err == 0)
		return mbi_err(e, MB_FATAL, MB_ENET, c->name, -1,
			       "%s: connection closed by the server", what);
	return mbi_err(e, MB_FATAL, MB_ENET, c->name, -1, "%s: %s", what,
		       strerror(err));
}

int
mbi_conn_write(struct mbi_conn *c, const void *p, size_t n, struct mb_err *e)
{
	const char *s = p;
	ssize_t w;

	while (n > 0) {
		errno = 0;
		if (c->ssl != NULL) {
			int k = SSL_write(c->ssl, s,
					  n > INT_MAX ? INT_MAX : (int)n);

			if (k <= 0) {
				ERR_clear_error();
				return io_err(c, errno ? errno : EPIPE,
					      "cannot send", e);
			}
			w = k;
		} else {
			w = send(c->fd, s, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return io_err(c, errno, "cannot send", e);
		}
		s += w;
		n -= (size_t)w;
	}
	return MB_OK;
}

/* Refill the read buffer: MB_OK, or MB_FATAL at end or error. */
static int
fill(struct mbi_conn *c, struct mb_err *e)
{
	ssize_t n;

	c->rpos = c->rlen = 0;
	for (;;) {
		errno = 0;
		if (c->ssl != NULL) {
			int k = SSL_read(c->ssl, c->rbuf, sizeof(c->rbuf));

			if (k <= 0) {
				int se = SSL_get_error(c->ssl, k);

				ERR_clear_error();
				if (se == SSL_ERROR_ZERO_RETURN)
					errno = 0;
				else if (errno == 0 && se != SSL_ERROR_SYSCALL)
					errno = EPROTO;
				return io_err(c, errno, "cannot read", e);
			}
			n = k;
		} else {
			n = recv(c->fd, c->rbuf, sizeof(c->rbuf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return io_err(c, n == 0 ? 0 : errno,
					      "cannot read", e);
		}
		c->rlen = (size_t)n;
		return MB_OK;
	}
}

int
mbi_conn_getline(struct mbi_conn *c, struct mbi_buf *line, size_t max,
		 struct mb_err *e)
{
	mbi_buf_reset(line);
	for (;;) {
		char *nl;
		size_t n;

		if (c->rpos == c->rlen && fill(c, e) != MB_OK)
			return MB_FATAL;
		nl = memchr(c->rbuf + c->rpos, '\n', c->rlen - c->rpos);
		n = nl ? (size_t)(nl - (c->rbuf + c->rpos)) : c->rlen - c->rpos;
		if (line->len + n > max) {
			c->dead = true;
			return mbi_err(e, MB_FATAL, MB_EPROTO, c->name, -1,
				       "server line longer than %zu bytes",
				       max);
		}
		if (mbi_buf_add(line, c->rbuf + c->rpos, n) < 0)
			return mbi_err(e, MB_FATAL, MB_ENOMEM, c->name, -1,
				       "out of memory");
		c->rpos += n;
		if (nl != NULL) {
			c->rpos++;
			if (line->len > 0 && line->buf[line->len - 1] == '\r')
				line->buf[--line->len] = '\0';
			return MB_OK;
		}
	}
}

int
mbi_conn_read(struct mbi_conn *c, void *p, size_t n, struct mb_err *e)
{
	char *d = p;

	while (n > 0) {
		size_t k;

		if (c->rpos == c->rlen && fill(c, e) != MB_OK)
			return MB_FATAL;
		k = c->rlen - c->rpos;
		if (k > n)
			k = n;
		memcpy(d, c->rbuf + c->rpos, k);
		c->rpos += k;
		d += k;
		n -= k;
	}
	return MB_OK;
}

void
mbi_conn_close(struct mbi_conn **cp)
{
	struct mbi_conn *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->sctx);
	ERR_clear_error();
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* ------------------------------------------------------------------ */
/* Credentials                                                          */

/*
 * The first line of fd into buf, without its line end: 0; -1 for a read
 * error (errno); -2 when the line does not fit in size - 1 bytes (buf is
 * then cleared: a cut password or token would only be refused later,
 * for a reason nobody could guess).
 */
static int
read_first_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t r;
	char c;

	while (n + 1 < size) {
		r = read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
		if (memchr(buf, '\n', n) != NULL)
			break;
	}
	buf[n] = '\0';
	if (n + 1 == size && strpbrk(buf, "\r\n") == NULL) {
		/* full: fine only if the line ends right here */
		while ((r = read(fd, &c, 1)) < 0 && errno == EINTR)
			;
		if (r > 0 && c != '\n' && c != '\r') {
			explicit_bzero(buf, size);
			return -2;
		}
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

/* what is the secret from setting name: a password or an access token */
static const char *
secret_what(const char *name)
{
	return strcmp(name, "oauth-command") == 0 ? "access token" : "password";
}

static int
run_command(const char *name, const char *cmd, char *buf, size_t size,
	    struct mb_err *e)
{
	int pfd[2], st, rl;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return mbi_err_sys(e, MB_FAILED, errno, NULL, "pipe");
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return mbi_err_sys(e, MB_FAILED, errno, NULL, "fork");
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	rl = read_first_line(pfd[0], buf, size);
	if (rl == -1)
		buf[0] = '\0';
	/* read the rest (up to 1 MiB), so that the command is not killed
	 * by SIGPIPE for writing more than one line */
	{
		char junk[4096];
		size_t total = 0;
		ssize_t n;

		while (total < ((size_t)1 << 20) &&
		       ((n = read(pfd[0], junk, sizeof(junk))) > 0 ||
			(n < 0 && errno == EINTR)))
			total += n > 0 ? (size_t)n : 0;
		explicit_bzero(junk, sizeof(junk));
	}
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && rl == 0 && buf[0])
		return MB_OK;
	explicit_bzero(buf, size);
	/* the command itself is not shown: it may hold a secret */
	if (WIFSIGNALED(st))
		return mbi_err(e, MB_FAILED, MB_EAUTH, NULL, -1,
			       "%s was killed by signal %d", name,
			       WTERMSIG(st));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return mbi_err(e, MB_FAILED, MB_EAUTH, NULL, -1,
			       "%s failed (exit status 127: command not "
			       "found?)",
			       name);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return mbi_err(e, MB_FAILED, MB_EAUTH, NULL, -1,
			       "%s failed (exit status %d)", name,
			       WEXITSTATUS(st));
	if (rl == -2)
		return mbi_err(e, MB_FAILED, MB_EAUTH, NULL, -1,
			       "%s printed a line longer than %zu bytes (the "
			       "longest %s mailbag takes)",
			       name, size - 1, secret_what(name));
	return mbi_err(e, MB_FAILED, MB_EAUTH, NULL, -1,
		       "%s printed no %s (its first line is empty)", name,
		       secret_what(name));
}

int
mbi_net_secret(struct mb_ctx *ctx, bool oauth, const char **out,
	       struct mb_err *e)
{
	struct mbi_netconf *nc = &ctx->net;
	char *buf = nc->secret;
	size_t size = sizeof(nc->secret);
	const char *v;
	int fd, err, rl = 0;

	*out = NULL;
	if (nc->have_secret) {
		*out = buf;
		return MB_OK;
	}
	if (oauth) {
		if (!nc->oauth_cmd[0])
			return mbi_err(e, MB_FAILED, MB_EAUTH, NULL, -1,
				       "no oauth-command is set");
		if (run_command("oauth-command", nc->oauth_cmd, buf, size, e) !=
		    MB_OK)
			return MB_FAILED;
	} else if (nc->pass_file[0]) {
		fd = open(nc->pass_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return mbi_err_sys(e, MB_FAILED, errno, nc->pass_file,
					   "cannot open password file");
		rl = read_first_line(fd, buf, size);
		err = errno;
		close(fd);
		if (rl == -1)
			return mbi_err_sys(e, MB_FAILED, err, nc->pass_file,
					   "cannot read password file");
	} else if (nc->pass_fd >= 0) {
		rl = read_first_line(nc->pass_fd, buf, size);
		if (rl == -1)
			return mbi_err_sys(e, MB_FAILED, errno, NULL,
					   "cannot read password from fd %d",
					   nc->pass_fd);
	} else if (nc->pass_env[0]) {
		v = getenv(nc->pass_env);
		if (v == NULL)
			return mbi_err(e, MB_FAILED, MB_EAUTH, NULL, -1,
				       "environment variable %s is not set",
				       nc->pass_env);
		if (strlen(v) < size)
			snprintf(buf, size, "%s", v);
		else
			rl = -2;
	} else if (nc->pass_cmd[0]) {
		if (run_command("password-command", nc->pass_cmd, buf, size,
				e) != MB_OK)
			return MB_FAILED;
	} else {
		return mbi_err(e, MB_FAILED, MB_EAUTH, NULL, -1,
			       "no password source (password-file, "
			       "password-fd, password-env, password-command)");
	}
	if (rl == -2)
		return mbi_err(e, MB_FAILED, MB_EAUTH, NULL, -1,
			       "the password is longer than %zu bytes",
			       size - 1);
	if (buf[0] == '\0')
		return mbi_err(e, MB_FAILED, MB_EAUTH, NULL, -1,
			       "the password source is empty");
	nc->have_secret = true;
	*out = buf;
	return MB_OK;
}

void
mbi_net_user(const struct mbi_remote *r, char *buf, size_t size)
{
	struct passwd *pw;
	const char *u;

	if (r->user[0]) {
		snprintf(buf, size, "%s", r->user);
		return;
	}
	pw = getpwuid(getuid());
	u = pw ? pw->pw_name : getenv("USER");
	snprintf(buf, size, "%s", u ? u : "");
}
