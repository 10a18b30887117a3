# daneguard — one GNU Makefile: build, run, check, bench, install.
#
#   make run            install what is missing, build, start on conf/daneguard.yml
#   make check          install what is missing, build, run every test
#   make check SANITIZE=1   the same with ASan + UBSan (+ LeakSan)
#   make demo           the hermetic test world with daneguard in front of it
#   make bench          benchmarks against the peers (tests/bench/)

CC      ?= cc
CFLAGS  ?= -O2 -g
PREFIX  ?= /usr/local
WARN     = -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
CPPFLAGS += -D_GNU_SOURCE -Iinclude
LIBS     = -lgetdns -luv -lmbedtls -lmbedx509 -lmbedcrypto -lyaml -lhttp_parser -lm

ifeq ($(SANITIZE),1)
BUILD   = build-san
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
BUILD   = build
endif

# Packages: what the daemon needs to build and run, and what the tests drive.
RUN_PKGS  = build-essential pkg-config libgetdns-dev libuv1-dev libmbedtls-dev libyaml-dev libssl-dev \
            libhttp-parser-dev dns-root-data ca-certificates openssl
TEST_PKGS = $(RUN_PKGS) nsd ldnsutils python3-dnspython bind9-dnsutils knot-dnsutils unbound curl nginx-light \
            python3 iproute2 procps chromium firefox-esr tesseract-ocr tesseract-ocr-eng libnss3-tools clang libclang-rt-14-dev libfuzzer-14-dev \
            systemd man-db strace util-linux prometheus dnsmasq-base stubby faketime
BENCH_PKGS = $(TEST_PKGS) dnsperf privoxy mitmproxy

LIB_SRCS  = $(filter-out daemon/main.c resolver/fdwrap.c resolver/sigkeys.c,$(wildcard resolver/*.c proxy/*.c daemon/*.c))
LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ  = $(BUILD)/daemon/main.o
# resolver/fdwrap.c defines socket() and close() for the whole process (the
# getdns fd workaround, see the file): only the daemon and the unit tests that
# run getdns on a loop link it, never the library.
FDWRAP_OBJ   = $(BUILD)/resolver/fdwrap.o
FDWRAP_TESTS = test_lookup test_server
# resolver/sigkeys.c defines two OpenSSL functions for the whole process
# (getdns's DNSSEC keys kept between signatures, include/sigkeys.h): the
# daemon and test_sigkeys only.
SIGKEYS_OBJ  = $(BUILD)/resolver/sigkeys.o
SIGKEYS_LIBS = -lcrypto
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
BIN       = $(BUILD)/daneguard

# daneguard (the link) is phony so it always follows the last build.
.PHONY: daneguard all run check unit e2e demo bench deps install uninstall clean format

all: $(BIN) daneguard

# ./daneguard points at the build just made (plain or SANITIZE=1).
daneguard: $(BIN)
	@ln -sfn $(BIN) daneguard

LIB_A = $(BUILD)/libdaneguard.a

$(LIB_A): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(FDWRAP_OBJ) $(SIGKEYS_OBJ) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(SIGKEYS_LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -MMD -MP -c -o $@ $<

# A unit test may #include the .c under test to reach its static functions;
# linking against an archive then takes only what the test does not define.
$(BUILD)/tests/%: tests/unit/%.c $(LIB_A) tests/unit/unit.h
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -Itests/unit -MMD -MP -o $@ $< $(LIB_A) $(LDFLAGS) $(LIBS)

$(FDWRAP_TESTS:%=$(BUILD)/tests/%): $(BUILD)/tests/%: tests/unit/%.c $(FDWRAP_OBJ) $(LIB_A) tests/unit/unit.h
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -Itests/unit -MMD -MP -o $@ $< $(FDWRAP_OBJ) $(LIB_A) $(LDFLAGS) $(LIBS)

$(BUILD)/tests/test_sigkeys: tests/unit/test_sigkeys.c $(SIGKEYS_OBJ) $(LIB_A) tests/unit/unit.h
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -Itests/unit -MMD -MP -o $@ $< $(SIGKEYS_OBJ) $(LIB_A) $(LDFLAGS) $(LIBS) $(SIGKEYS_LIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# `make deps` is the one step that changes this machine: it installs the
# Debian packages that DEPS_FOR needs (run, demo, test or bench; apt-get runs
# only when something is missing) and, for run and test, creates the
# `daneguard` system account the daemon drops to. run, demo, check and bench
# call it first; nothing else here installs or creates anything.
DEMO_PKGS = $(RUN_PKGS) nsd ldnsutils bind9-dnsutils unbound curl python3
DEPS_FOR ?= run
DEPS_PKGS_run   = $(RUN_PKGS)
DEPS_PKGS_demo  = $(DEMO_PKGS)
DEPS_PKGS_test  = $(TEST_PKGS)
DEPS_PKGS_bench = $(BENCH_PKGS)

deps:
	@pkgs="$(DEPS_PKGS_$(DEPS_FOR))"; [ -n "$$pkgs" ] || { echo "DEPS_FOR=run|demo|test|bench" >&2; exit 2; }; \
	missing=""; for p in $$pkgs; do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root to install:$$missing" >&2; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q && apt-get install -y -q --no-install-recommends $$missing || exit 1; \
	fi
	@case "$(DEPS_FOR)" in run|test) \
	  if ! id daneguard >/dev/null 2>&1; then \
	    if [ "$$(id -u)" != 0 ]; then echo "run as root to create the daneguard account" >&2; exit 1; fi; \
	    echo "useradd --system daneguard"; \
	    useradd --system --no-create-home --home-dir /var/lib/daneguard \
	        --shell /usr/sbin/nologin daneguard; \
	  fi ;; esac

run:
	$(MAKE) deps DEPS_FOR=run
	$(MAKE) all
	$(BIN) -c conf/daneguard.yml

check:
	$(MAKE) deps DEPS_FOR=test
	$(MAKE) all
	$(MAKE) $(UNIT_BINS)
	BUILD=$(BUILD) tests/run.sh

demo:
	$(MAKE) deps DEPS_FOR=demo
	$(MAKE) all
	tests/world/demo.sh

bench:
	$(MAKE) deps DEPS_FOR=bench
	$(MAKE) all
	tests/bench/run.sh

# make install [DESTDIR=/staging] [PREFIX=/usr]
# The configuration stays in /etc/daneguard (the binary's built-in default);
# SYSTEMDDIR is Debian 12's (pkg-config --variable=systemdsystemunitdir systemd).
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/daneguard
SYSCONFDIR  ?= /etc
SYSTEMDDIR  ?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
COMPLETIONDIR ?= /usr/share/bash-completion/completions

install: all
	install -D -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/daneguard
	install -d -m 0755 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(SYSTEMDDIR) $(DESTDIR)$(SYSCONFDIR)/daneguard $(DESTDIR)$(DOCDIR)
	gzip -9n < conf/daneguard.8 > $(DESTDIR)$(MANDIR)/man8/daneguard.8.gz
	gzip -9n < conf/daneguard.yml.5 > $(DESTDIR)$(MANDIR)/man5/daneguard.yml.5.gz
	chmod 0644 $(DESTDIR)$(MANDIR)/man8/daneguard.8.gz $(DESTDIR)$(MANDIR)/man5/daneguard.yml.5.gz
	sed 's|/usr/sbin/daneguard|$(SBINDIR)/daneguard|g; s|/etc/daneguard/|$(SYSCONFDIR)/daneguard/|g' \
	    conf/daneguard.service > $(DESTDIR)$(SYSTEMDDIR)/daneguard.service
	chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/daneguard.service
	install -D -m 0644 conf/sysusers-daneguard.conf $(DESTDIR)$(SYSUSERSDIR)/daneguard.conf
	install -D -m 0644 conf/daneguard.bash-completion $(DESTDIR)$(COMPLETIONDIR)/daneguard
	install -m 0644 conf/daneguard.yml conf/proxy.pac $(DESTDIR)$(DOCDIR)/
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/daneguard/daneguard.yml ]; then \
	    echo "kept $(DESTDIR)$(SYSCONFDIR)/daneguard/daneguard.yml; the new sample is $(DESTDIR)$(DOCDIR)/daneguard.yml"; \
	else \
	    echo "install -m 0644 conf/daneguard.yml $(DESTDIR)$(SYSCONFDIR)/daneguard/daneguard.yml"; \
	    install -m 0644 conf/daneguard.yml $(DESTDIR)$(SYSCONFDIR)/daneguard/daneguard.yml; \
	fi
	@if [ -z "$(DESTDIR)" ]; then \
	    if command -v systemd-sysusers >/dev/null 2>&1; then \
	        echo "systemd-sysusers $(SYSUSERSDIR)/daneguard.conf"; \
	        systemd-sysusers $(SYSUSERSDIR)/daneguard.conf || exit 1; \
	    elif ! getent passwd daneguard >/dev/null; then \
	        echo "adduser --system --group daneguard"; \
	        adduser --system --group --home /var/lib/daneguard --no-create-home \
	            --shell /usr/sbin/nologin daneguard || exit 1; \
	    fi; \
	    if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	    echo "next: systemctl enable --now daneguard"; \
	fi

# Leaves the configuration, the CA in /var/lib/daneguard and the account.
uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
	    systemctl disable --now daneguard.service 2>/dev/null || true; \
	fi
	rm -f $(DESTDIR)$(SBINDIR)/daneguard \
	    $(DESTDIR)$(MANDIR)/man8/daneguard.8.gz $(DESTDIR)$(MANDIR)/man5/daneguard.yml.5.gz \
	    $(DESTDIR)$(SYSTEMDDIR)/daneguard.service $(DESTDIR)$(SYSUSERSDIR)/daneguard.conf \
	    $(DESTDIR)$(COMPLETIONDIR)/daneguard \
	    $(DESTDIR)$(DOCDIR)/daneguard.yml $(DESTDIR)$(DOCDIR)/proxy.pac
	rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "kept $(SYSCONFDIR)/daneguard, /var/lib/daneguard (the CA) and the daneguard account"

clean:
	rm -rf build build-san daneguard

format:
	clang-format -i $(wildcard */*.c include/*.h tests/unit/*.c)

# Fuzzing (tests/fuzz/): `make fuzz` runs each harness for FUZZ_SECONDS.
-include tests/fuzz/fuzz.mk
