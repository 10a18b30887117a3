# tests/fuzz/fuzz.mk — libFuzzer harnesses (included by the top Makefile).
#
#   make fuzz-build                 build every harness into build-fuzz/
#   make fuzz                       run each for FUZZ_SECONDS (default 900) in turn
#   make fuzz FUZZ_SECONDS=60 FUZZ_HARNESSES="wire http"
#
# Needs clang with libFuzzer (Debian: clang-14 libclang-rt-14-dev libfuzzer-14-dev).
# Each harness compiles the project sources it needs itself, with ASan and UBSan
# (UB aborts, so the fuzzer sees it). `make fuzz` works on a copy of the seed
# corpus in build-fuzz/corpus/<harness>/ so the repository's corpus stays as it
# is; crashing inputs land in build-fuzz/findings/<harness>/.

FUZZ_CC       ?= $(shell command -v clang-14 2>/dev/null || command -v clang 2>/dev/null || echo clang)
FUZZ_DIR      ?= build-fuzz
FUZZ_SECONDS  ?= 900
FUZZ_HARNESSES ?= wire http dane config scrub
FUZZ_CFLAGS   ?= -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                 -fno-omit-frame-pointer -g -O1 -std=c11 -D_GNU_SOURCE -Iinclude \
                 -Wall -Wextra -Wno-unused-parameter
# extra flags: FUZZ_DEFS=... passes extra -D flags to every harness; formerly
# findings still open (see the top of each harness)
FUZZ_DEFS     ?=
# options for every run of `make fuzz` (libFuzzer flags)
FUZZ_RUNFLAGS ?= -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

FUZZ_SRCS_wire   = tests/fuzz/fuzz_wire.c resolver/wire.c
FUZZ_LIBS_wire   =
FUZZ_SRCS_http   = tests/fuzz/fuzz_http.c proxy/http.c proxy/http_reader.c
FUZZ_LIBS_http   = -lhttp_parser
FUZZ_SRCS_dane   = tests/fuzz/fuzz_dane.c proxy/dane.c proxy/dane_tlsa.c proxy/dane_cert.c
FUZZ_LIBS_dane   = -lmbedtls -lmbedx509 -lmbedcrypto
FUZZ_SRCS_config = tests/fuzz/fuzz_config.c daemon/config.c daemon/config_resolver.c daemon/keys.c daemon/addr.c daemon/log.c \
                   resolver/wire.c resolver/localzone.c
FUZZ_LIBS_config = -lyaml -lgetdns -lmbedcrypto
FUZZ_SRCS_scrub  = tests/fuzz/fuzz_scrub.c resolver/scrub.c resolver/wire.c resolver/localzone.c \
                   daemon/addr.c daemon/log.c
FUZZ_LIBS_scrub  = -lgetdns

FUZZ_BINS = $(FUZZ_HARNESSES:%=$(FUZZ_DIR)/fuzz_%)

.PHONY: fuzz fuzz-build

fuzz-build: $(FUZZ_BINS)

# One rule per harness; rebuilt when a source or any public header changes
# (few files, so no .d files).
define FUZZ_RULE
$(FUZZ_DIR)/fuzz_$(1): $(FUZZ_SRCS_$(1)) $(wildcard include/*.h) tests/fuzz/fuzz.mk
	@mkdir -p $$(@D)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) $$(FUZZ_DEFS) -o $$@ $$(FUZZ_SRCS_$(1)) $$(FUZZ_LIBS_$(1))
endef
$(foreach h,$(FUZZ_HARNESSES),$(eval $(call FUZZ_RULE,$(h))))

fuzz: fuzz-build
	@set -u; status=0; \
	for h in $(FUZZ_HARNESSES); do \
	  corpus=$(FUZZ_DIR)/corpus/$$h; findings=$(FUZZ_DIR)/findings/$$h; log=$(FUZZ_DIR)/logs/$$h.log; \
	  mkdir -p $$corpus $$findings $(FUZZ_DIR)/logs; \
	  if [ -d tests/fuzz/corpus/$$h ]; then cp -n tests/fuzz/corpus/$$h/* $$corpus/ 2>/dev/null; fi; \
	  echo "== fuzz_$$h for $(FUZZ_SECONDS) s (corpus $$corpus, log $$log)"; \
	  nice $(FUZZ_DIR)/fuzz_$$h $(FUZZ_RUNFLAGS) -max_total_time=$(FUZZ_SECONDS) \
	    -artifact_prefix=$$findings/ $$corpus >$$log 2>&1; rc=$$?; \
	  execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log | tail -n 1); \
	  secs=$$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' $$log | tail -n 1); \
	  cov=$$(grep -o 'cov: [0-9]* ft: [0-9]*' $$log | tail -n 1); \
	  echo "   executions: $${execs:-?} in $${secs:-?} s; $$cov; corpus: $$(ls $$corpus | wc -l) inputs"; \
	  if [ $$rc -ne 0 ]; then \
	    status=1; \
	    echo "   FINDING (exit $$rc):"; \
	    grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_[a-z]+:|.*runtime error)' $$log | head -n 5 | sed 's/^/   | /'; \
	    grep -o 'Test unit written to .*' $$log | sed 's/^/   /'; \
	  fi; \
	done; \
	exit $$status
