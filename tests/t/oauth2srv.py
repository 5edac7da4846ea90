#!/usr/bin/env python3
"""oauth2srv.py - a token introspection endpoint on 127.0.0.1 for the
OAuth 2 tests (dovecot.sh with DC_OAUTH=1).

  oauth2srv.py PORTFILE TOKENFILE USER LOG

Answers Dovecot's oauth2 passdb (introspection_mode = auth: a GET with
"Authorization: Bearer TOKEN").  The tokens in TOKENFILE (read at each
request), one a line as "TOKEN" or "TOKEN NAME", are active and belong
to NAME, or else to USER; any other token, or a request without one, is
inactive:

  200 {"active": true, "username": NAME, "scope": "mail"}
  401 {"active": false, "error": "invalid_token"}

Each request appends one line to LOG: "good" or "bad" and the length of
the token that came (never the token itself).  The listening port is
written to PORTFILE once the socket listens, and the process's PID to
PORTFILE.pid.  Runs until killed.
"""
import http.server
import json
import os
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth[:7].lower() == "bearer " else None
        owner = None
        with open(self.server.tokenfile) as f:
            for line in f:
                w = line.split(None, 1)
                if w and token == w[0]:
                    owner = w[1].strip() if len(w) > 1 else self.server.user
                    break
        ok = owner is not None
        with open(self.server.log, "a") as f:
            f.write("%s %d\n" % ("good" if ok else "bad",
                                 len(token) if token is not None else -1))
        if ok:
            code = 200
            body = {"active": True, "username": owner, "scope": "mail"}
        else:
            code = 401
            body = {"active": False, "error": "invalid_token"}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


def main():
    portfile, tokenfile, user, log = sys.argv[1:5]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.tokenfile, srv.user, srv.log = tokenfile, user, log
    # our own PID: a shell's $! may be a wrapper's (pyenv shims)
    with open(portfile + ".pid", "w") as f:
        f.write("%d\n" % os.getpid())
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
