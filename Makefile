# mailbag - one plain GNU Makefile.  `make`, `make check`, `make demo`,
# `make bench`, `make install PREFIX=/usr DESTDIR=...`, `make SAN=1 check`.
#
# Sources are picked up by directory, so a new driver (formats/foo.c), a
# new command (cmd/foo.c, plus its row in cmd/commands.c) or a new unit
# test (tests/unit/foo.c) needs no Makefile edit.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
LIBEXECDIR ?= $(PREFIX)/lib/mailbag
MAILGROUP  ?= mail
DESTDIR    ?=
CC         ?= cc
PKG_CONFIG ?= pkg-config
PROVE      ?= prove
JOBS       ?= 2

# Third-party libraries, from pkg-config (Debian's -dev packages).
# libarchive and OpenSSL are not linked but loaded when first needed
# (libmbox/lazy.h): most runs never use them, and loading them and what
# they pull in was most of mailbag's start-up time.
PKGS      := zlib libarchive libpcre2-8 openssl
PKGS_LINK := zlib libpcre2-8

WARN   := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wpointer-arith -Wformat=2 -Wno-unused-parameter
ifeq ($(CI),true)
WARN   += -Werror
endif
ifeq ($(WERROR),1)
WARN   += -Werror
endif

OPT    ?= -O2
BASE_CFLAGS := -std=c11 -pthread -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -g $(OPT) $(WARN) \
          -Ilibmbox -Iformats -Irepair -Icmd

ifeq ($(SAN),1)
B        := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
else ifeq ($(COV),1)
# gcov instrumentation for `make coverage`: no optimisation, so that
# lines map to code one to one.
B        := build-cov
SANFLAGS := --coverage
OPT      := -O0
else
B        := build
SANFLAGS :=
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS_LINK) 2>/dev/null)
# the sonames to load, read off the libraries we compile against
soname = $(shell objdump -p "$$($(PKG_CONFIG) --variable=libdir $(1) 2>/dev/null)/$(2)" 2>/dev/null | awk '/SONAME/ {print $$2}')
SONAME_ARCHIVE := $(call soname,libarchive,libarchive.so)
SONAME_SSL     := $(call soname,libssl,libssl.so)
SONAME_CRYPTO  := $(call soname,libcrypto,libcrypto.so)

ALL_CFLAGS  = $(BASE_CFLAGS) $(SANFLAGS) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = -pthread $(SANFLAGS) $(LDFLAGS)
LIBS        = $(PKG_LIBS) -lcrypt -ldl

LIB_SRCS  := $(wildcard libmbox/*.c) $(wildcard formats/*.c) $(wildcard repair/*.c)
CMD_SRCS  := $(wildcard cmd/*.c)
UNIT_SRCS := $(wildcard tests/unit/*.c)
HELP_SRCS := $(wildcard tests/helper/*.c)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz-*.c)

LIB_OBJS  := $(LIB_SRCS:%.c=$(B)/%.o)
CMD_OBJS  := $(CMD_SRCS:%.c=$(B)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/unit/%)
HELP_BINS := $(HELP_SRCS:tests/helper/%.c=$(B)/tests/helper/%)
# Every fuzz target also builds with the normal compiler against a small
# main (tests/fuzz/replay.c) that replays files: make check runs them.
REPLAY_BINS := $(FUZZ_SRCS:tests/fuzz/fuzz-%.c=$(B)/tests/fuzz/replay-%)
LIBA      := $(B)/libmbox.a
BIN       := $(B)/bin/mailbag
LOCKBIN   := $(B)/bin/mailbag-lock

.PHONY: all check check-unit check-t demo bench install uninstall clean deps \
        deps-build deps-bench lint torture coverage valgrind fuzz fuzz-bins fuzz-run

all: $(BIN) $(LOCKBIN) $(UNIT_BINS) $(HELP_BINS) $(REPLAY_BINS)

$(B)/libmbox/lazy.o: CFLAGS += $(if $(SONAME_ARCHIVE),-DMB_SONAME_ARCHIVE='"$(SONAME_ARCHIVE)"') \
	$(if $(SONAME_SSL),-DMB_SONAME_SSL='"$(SONAME_SSL)"') \
	$(if $(SONAME_CRYPTO),-DMB_SONAME_CRYPTO='"$(SONAME_CRYPTO)"')

# libmbox runs the lock helper from where `make install` puts it.
$(B)/libmbox/conf.o: CFLAGS += -DMAILBAG_LOCK_HELPER='"$(LIBEXECDIR)/mailbag-lock"'

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBA): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(CMD_OBJS) $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CMD_OBJS) $(LIBA) $(LIBS)

$(B)/tests/unit/%: tests/unit/%.c tests/tap.h $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(LIBA) $(LIBS) $(ALL_LDFLAGS)

# The setgid lock helper: one self-contained file, no libmbox, and never
# a sanitizer runtime (it reads its options from the environment before
# main, which a setgid program must not trust; LSan cannot run setgid).
$(LOCKBIN): lockhelper/mailbag-lock.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS)

# tests/helper/NAME.so.c is an LD_PRELOAD shim: built into NAME.so without
# the sanitizers (a preloaded library must not pull in the ASan runtime).
$(B)/tests/helper/%.so: tests/helper/%.so.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -D_FILE_OFFSET_BITS=64,$(BASE_CFLAGS)) $(CFLAGS) \
		-fPIC -shared -o $@ $< -ldl

$(B)/tests/helper/%: tests/helper/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(LIBA) $(LIBS) $(ALL_LDFLAGS)

$(B)/tests/fuzz/replay-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz.h tests/fuzz/replay.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/fuzz -o $@ $< tests/fuzz/replay.c $(LIBA) \
		$(LIBS) $(ALL_LDFLAGS)

-include $(LIB_OBJS:.o=.d) $(CMD_OBJS:.o=.d)

# libFuzzer builds (tests/fuzz/README.md): clang only, own objects in
# build-fuzz/.  `make fuzz` builds build-fuzz/fuzz-NAME for every
# tests/fuzz/fuzz-NAME.c; `make fuzz-run FUZZ_TIME=600` runs each in turn
# (FUZZ_TARGETS="unix mime" for some), growing build-fuzz/corpus/NAME.
FZ          := build-fuzz
FUZZ_CC     ?= clang
FUZZ_TIME   ?= 60
FUZZ_SAN    := -fsanitize=address,undefined -fno-omit-frame-pointer \
               -fno-sanitize-recover=undefined
FUZZ_CFLAGS  = $(filter-out $(OPT),$(BASE_CFLAGS)) -O1 $(FUZZ_SAN) \
               $(PKG_CFLAGS) -DMAILBAG_FUZZ
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FZ)/%.o)
FUZZ_BINS   := $(FUZZ_SRCS:tests/fuzz/fuzz-%.c=$(FZ)/fuzz-%)

fuzz:
	@sh contrib/install-deps.sh fuzz
	@$(MAKE) --no-print-directory fuzz-bins

fuzz-bins: $(FUZZ_BINS)

$(FZ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FZ)/libmbox.a: $(FUZZ_LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(FZ)/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz.h $(FZ)/libmbox.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< \
		$(FZ)/libmbox.a $(PKG_LIBS) -lcrypt

fuzz-run: fuzz
	@sh tests/fuzz/run.sh $(CURDIR)/$(FZ) $(FUZZ_TIME) $(FUZZ_TARGETS)

-include $(FUZZ_LIB_OBJS:.o=.d)

# Installs missing Debian packages (apt-get, as root or through sudo).
deps:
	@sh contrib/install-deps.sh test

deps-build:
	@sh contrib/install-deps.sh build

deps-bench:
	@sh contrib/install-deps.sh bench

# Every test: C unit tests and shell end-to-end tests, all TAP, one prove run.
check: deps
	@$(MAKE) --no-print-directory all
	MAILBAG_BUILD=$(CURDIR)/$(B) $(PROVE) -j$(JOBS) --exec $(CURDIR)/tests/run-test \
		$(UNIT_BINS) $(sort $(wildcard tests/t/t*.sh))

check-unit: all
	MAILBAG_BUILD=$(CURDIR)/$(B) $(PROVE) --exec $(CURDIR)/tests/run-test $(UNIT_BINS)

check-t: all
	MAILBAG_BUILD=$(CURDIR)/$(B) $(PROVE) -j$(JOBS) --exec $(CURDIR)/tests/run-test \
		$(sort $(wildcard tests/t/t*.sh))

# Long seeded runs, not part of `make check`: ten times the corruption
# seeds of the repair tests, more crash points, and 500 SIGKILLed
# deliveries per mailbox format (CRASH_RUNS); CRASH_SEED picks the
# random points of the delivery and spool-move runs.
torture: deps
	@$(MAKE) --no-print-directory all
	REPAIR_SEEDS=$${REPAIR_SEEDS:-1000} CRASH_POINTS=$${CRASH_POINTS:-400} \
	CRASH_RUNS=$${CRASH_RUNS:-500} \
	MAILBAG_BUILD=$(CURDIR)/$(B) $(PROVE) -j$(JOBS) --exec $(CURDIR)/tests/run-test \
		tests/t/t3100-crash-convert.sh tests/t/t3101-crash-rewrite.sh \
		tests/t/t3300-repair.sh tests/t/t3301-repair-mbx.sh \
		tests/t/t5101-spool-move.sh tests/t/t5105-crash-delivery.sh

demo: deps-build
	@$(MAKE) --no-print-directory $(BIN)
	@sh contrib/demo.sh $(CURDIR)/$(BIN)

bench: deps-bench
	@$(MAKE) --no-print-directory OPT=-O2 all
	@sh tests/bench/bench.sh $(CURDIR)/$(B)

install: $(BIN) $(LOCKBIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/mailbag
	install -m 0755 $(LOCKBIN) $(DESTDIR)$(LIBEXECDIR)/mailbag-lock
	chgrp $(MAILGROUP) $(DESTDIR)$(LIBEXECDIR)/mailbag-lock && \
		chmod 2755 $(DESTDIR)$(LIBEXECDIR)/mailbag-lock || \
		echo "warning: mailbag-lock must be setgid $(MAILGROUP) (mailbag-lock(8))"
	for c in `$(BIN) --list-commands`; do \
		ln -sf mailbag $(DESTDIR)$(BINDIR)/mailbag-$$c; done
	for a in `$(BIN) --list-aliases`; do \
		ln -sf mailbag $(DESTDIR)$(BINDIR)/$$a; done
	for s in 1 3 5 7 8; do \
		ls man/*.$$s >/dev/null 2>&1 || continue; \
		install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 0644 man/*.$$s $(DESTDIR)$(MANDIR)/man$$s/; done

uninstall:
	for c in `$(BIN) --list-commands`; do rm -f $(DESTDIR)$(BINDIR)/mailbag-$$c; done
	for a in `$(BIN) --list-aliases`; do rm -f $(DESTDIR)$(BINDIR)/$$a; done
	rm -f $(DESTDIR)$(BINDIR)/mailbag $(DESTDIR)$(LIBEXECDIR)/mailbag-lock

lint:
	clang-format --dry-run -Werror $(LIB_SRCS) $(CMD_SRCS) libmbox/*.h \
		lockhelper/*.c

# Line coverage of libmbox/, formats/ and repair/ over the whole test
# suite: build-cov/ (gcov), the table on stdout, HTML in build-cov/html.
coverage:
	@sh contrib/install-deps.sh coverage
	@$(MAKE) --no-print-directory COV=1 all
	@sh tests/coverage.sh $(CURDIR)/build-cov $(JOBS)

# The shell tests with every mailbag run under valgrind (memcheck, leaks):
# tests/valgrind/README.  VALGRIND_TESTS="tests/t/t1100-mbx.sh ..." to
# choose the scripts.
valgrind:
	@sh contrib/install-deps.sh valgrind
	@$(MAKE) --no-print-directory all
	@sh tests/valgrind/run.sh $(CURDIR)/build $(JOBS)

clean:
	rm -rf build build-san build-cov build-fuzz
