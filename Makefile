# doormat: build, test and install.
#   make            build/doormat and build/doormat-net (the same command with the
#                   services), the installed libraries build/libdoormat.so.1 (base, vault,
#                   log, escrow) and build/libdoormat-service.so.1 (the services), and the
#                   archives the command, the tests and the fuzz targets link:
#                   build/libdoormat.a, libdoormat-service.a, libdoormat-labs.a,
#                   libdoormat-bench.a
#   make check      every test (installs missing Debian packages first)
#   make demo       the classroom walkthrough, ending with the policy briefing
#   make check-report  a quick briefing loaded in headless Chromium (render, charts, no network)
#   make sanitize   the whole suite under ASan + UBSan
#   make memcheck   the end-to-end tests with the command under valgrind memcheck
#   make fuzz       every libFuzzer target in fuzz/ for FUZZ_SECONDS each (fuzz-smoke: 10 s)
#   make install    PREFIX=/usr/local DESTDIR= (the command and PREFIX/lib/doormat/doormat-net,
#                   the age-plugin-* programs, libdoormat.so.1 and libdoormat-service.so.1,
#                   their headers, doormat.pc and doormat-service.pc, the man page)

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

# Every public target first installs what is missing (tools/deps.sh), then
# builds in an inner make run (DM_INNER=1). Only that inner run asks
# pkg-config for flags: on a bare machine neither pkg-config nor the libraries
# exist until the packages are installed, so flags read when this file is
# first parsed would be empty.
# libfiu: the log's writes are fault-injection points (base/durable.c).
# jansson: every JSON document cli/, labs/ and bench/ write or read
# (docs/architecture.md); the library (vault, log, escrow) never uses it, and
# --as-needed keeps it out of the libraries and programs that do not.
PKGS := libsodium libcrypto libssh libfiu jansson
# The services (service/, libdoormat-service) alone speak HTTP and TLS:
# libevent's evhttp over OpenSSL bufferevents for the servers, libcurl for the
# clients (docs/operating.md says why). The library (vault, log, escrow) never links them.
SVC_PKGS := libevent libevent_openssl libssl libcurl
ifdef DM_INNER
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
ifeq ($(strip $(PKG_LIBS)),)
$(error pkg-config knows none of: $(PKGS); run `make deps` (or any public target) first)
endif
SVC_CFLAGS := $(shell pkg-config --cflags $(SVC_PKGS))
SVC_LIBS   := $(shell pkg-config --libs $(SVC_PKGS))
ifeq ($(strip $(SVC_LIBS)),)
$(error pkg-config knows none of: $(SVC_PKGS); run `make deps` (or any public target) first)
endif
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)
# The one place the build decides whether the hybrid post-quantum recipient
# (age1pq, vault/hybrid.c) is compiled in: OpenSSL 3.5 or later has ML-KEM-768
# (with seeded key generation) and SHA-3; Debian 12's OpenSSL 3.0 has not, and
# that build says so when an age1pq key is used. HAVE_MLKEM=0 or 1 overrides.
HAVE_MLKEM ?= $(shell printf '\043include <openssl/core_names.h>\n\043include <openssl/evp.h>\n\043if OPENSSL_VERSION_NUMBER < 0x30500000L\n\043error old\n\043endif\nconst char *p = OSSL_PKEY_PARAM_ML_KEM_SEED;\n' | \
                $(CC) $(PKG_CFLAGS) -x c -fsyntax-only - 2>/dev/null && echo 1 || echo 0)
ifeq ($(HAVE_MLKEM),1)
MLKEM_CFLAGS := -DDM_HAVE_MLKEM=1
endif
endif
INNER := $(MAKE) --no-print-directory DM_INNER=1

OPT      ?= -O2
HARDEN   := -fstack-protector-strong -fPIE -D_FORTIFY_SOURCE=2 -fno-strict-overflow
CFLAGS   ?=
CFLAGS   += -std=c17 $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla \
            -D_GNU_SOURCE $(HARDEN) -Iinclude $(PKG_CFLAGS) $(MLKEM_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS  ?=
# --as-needed: libcrypto and libssh are loaded by the vault only when a payload,
# an SSH key or a hybrid key needs them (vault/lazylib.c), so nothing should
# make every process map them at start.
LDFLAGS  += -pie -Wl,-z,relro,-z,now -Wl,--as-needed $(EXTRA_LDFLAGS)
LDLIBS   := $(PKG_LIBS) -lpthread -lm -ldl
# The library rooms (base, vault, tlog, escrow, service) are built for their
# shared objects: position-independent, and every symbol hidden but those an
# installed header declares, between DM_API_BEGIN and DM_API_END
# (include/doormat/base.h). Calls inside a library then go direct.
LIB_CFLAGS := -fPIC -fvisibility=hidden -fno-semantic-interposition
# The shared objects name every library they need: a symbol left undefined is
# an error, unless a sanitizer's runtime (which only the program links) is in.
NO_UNDEFINED := $(if $(findstring -fsanitize,$(EXTRA_LDFLAGS)),,-Wl,--no-undefined)
# The ABI's version (docs/architecture.md, "The libraries"), not DM_VERSION.
SO_MAJOR := 1
SO_VERSION := $(SO_MAJOR).0.0

# The rooms and their arrows: cli -> labs, bench -> escrow -> tlog and vault,
# never back (the log, tlog/, knows nothing of escrow nor of the vault); every
# library room stands on base/ (include/doormat/base.h: errors, read-all and
# write-all, the atomic writer, hex, parse_u64), which reaches nothing but
# libc, libsodium and libfiu. Each room sees
# include/doormat/ (the public headers) and its own directory; only the unit
# tests also look inside vault/, tlog/ and escrow/.
# libdoormat.so.1 (base, vault, log and escrow) and libdoormat-service.so.1
# (the services, the only room that speaks HTTP and TLS, linked against
# libdoormat.so.1) are what make install ships. The command, the tests and the
# fuzz targets link the archives of the same objects (libdoormat.a,
# libdoormat-service.a): the lab-only operations (escrow/escrow_lab.h), hidden
# in the shared objects, link there like any other function. The labs (the
# teaching and attack code) and the benchmark engine are archives of their own.
LIB_SRC   := $(sort $(wildcard base/*.c) $(wildcard vault/*.c) $(wildcard tlog/*.c) \
               $(wildcard escrow/*.c))
LABS_SRC  := $(sort $(wildcard labs/*.c))
BENCH_SRC := bench/engine.c
SVC_SRC   := $(sort $(wildcard service/*.c))
SVC_OBJ   := $(SVC_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC   := $(sort $(wildcard cli/*.c))
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LABS_OBJ  := $(LABS_SRC:%.c=$(BUILD)/obj/%.o)
BENCH_OBJ := $(BENCH_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
# The command is linked twice from the same objects (cli/net.c says why):
# doormat without the service room, doormat-net with it.
DOORMAT_OBJ     := $(filter-out $(BUILD)/obj/cli/net_service.o,$(CLI_OBJ))
DOORMAT_NET_OBJ := $(filter-out $(BUILD)/obj/cli/net.o,$(CLI_OBJ))
SHARED_LIBS := $(BUILD)/libdoormat.so.$(SO_VERSION) $(BUILD)/libdoormat-service.so.$(SO_VERSION)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
HEADERS   := $(wildcard include/doormat/*.h base/*.h vault/*.h tlog/*.h escrow/*.h labs/*.h bench/*.h \
               service/*.h cli/*.h tests/*.h)
LIBS_ALL  := $(BUILD)/libdoormat-labs.a $(BUILD)/libdoormat-bench.a $(BUILD)/libdoormat.a
ROOM_INC  := -Ibase -Ivault -Itlog -Iescrow -Ilabs -Ibench -Icli
PLUGIN_BINS := $(BUILD)/age-plugin-pq

.PHONY: report-deps build-deps binaries
.PHONY: all check unit e2e deps demo sanitize install uninstall clean format lint \
        bench bench-compare bench-service bench-tlog check-report memcheck fuzz fuzz-build \
        fuzz-bins fuzz-smoke

all: build-deps
	+@$(INNER) binaries

# The transparency log's benchmark (and the large logs of tests/e2e/go_verifier.sh).
$(BUILD)/bench/tlog-bench: bench/tlog-bench.c $(BUILD)/libdoormat.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libdoormat.a $(LDLIBS)

# The age plugin programs (plugins/age-plugin-NAME.c): built beside doormat
# and installed with it, for age clients that lack what doormat has built in.
PLUGIN_SRC := $(sort $(wildcard plugins/age-plugin-*.c))
PLUGIN_BIN := $(PLUGIN_SRC:plugins/%.c=$(BUILD)/%) $(PLUGIN_BINS)
$(BUILD)/age-plugin-%: plugins/age-plugin-%.c $(BUILD)/libdoormat.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libdoormat.a $(LDLIBS)

binaries: $(BUILD)/doormat $(BUILD)/doormat-net $(LIBS_ALL) $(BUILD)/libdoormat-service.a \
          $(SHARED_LIBS) $(BUILD)/bench/tlog-bench $(PLUGIN_BIN) $(BUILD)/tests/fiu_nth.so

# The plugin programs age 1.3 ships, built beside the command (plugins/): age
# clients without the native type use it through them. They speak the plugin
# protocol with the vault's message codec, hence -Ivault.
$(BUILD)/age-plugin-pq: plugins/age_plugin_pq.c $(BUILD)/libdoormat.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ivault $(LDFLAGS) -o $@ $< $(BUILD)/libdoormat.a $(LDLIBS)

# The fault injector of tests/e2e/log_faults.sh: LD_PRELOADed into a service,
# it fails the one write of the log that the test picks (libfiu). Built
# without the sanitizers: it is preloaded, and instruments nothing of ours.
$(BUILD)/tests/fiu_nth.so: tests/fiu_nth.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -fPIC -shared -o $@ $< -lfiu

# Each room's include path: include/ and its own directory; the command also
# sees the labs' and the bench engine's headers (cli -> labs, bench).
ROOM_INC_base   := -Ibase $(LIB_CFLAGS)
ROOM_INC_vault  := -Ivault $(LIB_CFLAGS)
ROOM_INC_tlog   := -Itlog $(LIB_CFLAGS)
ROOM_INC_escrow := -Iescrow $(LIB_CFLAGS)
ROOM_INC_labs   := -Ilabs -Iescrow
ROOM_INC_bench  := -Ibench
ROOM_INC_cli    := -Icli -Ilabs -Ibench
ROOM_INC_service := -Iservice $(LIB_CFLAGS) $(SVC_CFLAGS)

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ROOM_INC_$(firstword $(subst /, ,$*))) -c $< -o $@

# Where doormat finds doormat-net (cli/net.c): beside itself, in this build
# directory, or where make install puts it.
$(BUILD)/obj/cli/net.o: cli/net.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ROOM_INC_cli) -DDM_NET_BUILD_DIR='"$(abspath $(BUILD))"' \
	  -DDM_NET_LIB_DIR='"$(PREFIX)/lib/doormat"' -c $< -o $@

$(BUILD)/libdoormat.a: $(LIB_OBJ)
$(BUILD)/libdoormat-service.a: $(SVC_OBJ)
$(BUILD)/libdoormat-labs.a: $(LABS_OBJ)
$(BUILD)/libdoormat-bench.a: $(BENCH_OBJ)
$(LIBS_ALL) $(BUILD)/libdoormat-service.a:
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# The installed libraries, with versioned sonames (docs/architecture.md, "The
# libraries"): libdoormat.so.1 exports what base.h, vault.h, tlog.h and
# escrow.h declare; libdoormat-service.so.1 what service.h declares, and takes
# every dm_ function it calls from libdoormat.so.1 (--no-undefined proves it).
SO_LDFLAGS := -shared -Wl,-z,relro,-z,now -Wl,--as-needed $(NO_UNDEFINED) $(EXTRA_LDFLAGS)
$(BUILD)/libdoormat.so.$(SO_VERSION): $(LIB_OBJ)
	$(CC) $(SO_LDFLAGS) -Wl,-soname,libdoormat.so.$(SO_MAJOR) -o $@ $(LIB_OBJ) $(LDLIBS)
	ln -sf libdoormat.so.$(SO_VERSION) $(BUILD)/libdoormat.so.$(SO_MAJOR)
	ln -sf libdoormat.so.$(SO_MAJOR) $(BUILD)/libdoormat.so

$(BUILD)/libdoormat-service.so.$(SO_VERSION): $(SVC_OBJ) $(BUILD)/libdoormat.so.$(SO_VERSION)
	$(CC) $(SO_LDFLAGS) -Wl,-soname,libdoormat-service.so.$(SO_MAJOR) -o $@ $(SVC_OBJ) \
	  $(BUILD)/libdoormat.so.$(SO_VERSION) $(SVC_LIBS) $(LDLIBS)
	ln -sf libdoormat-service.so.$(SO_VERSION) $(BUILD)/libdoormat-service.so.$(SO_MAJOR)
	ln -sf libdoormat-service.so.$(SO_MAJOR) $(BUILD)/libdoormat-service.so

# The command links the archives, as any program may: no symbol of it is
# exported. doormat leaves the service room out, so libssl, libevent and
# libcurl are mapped by no command but the network ones, which it hands to
# doormat-net (cli/net.c).
# The one symbol the command exports: cli_wordlist, which age's command-line
# tests (tests/testscript_fixed_word.c, preloaded there and nowhere else) look
# up to make the autogenerated passphrase of a fixed word, as age's own test
# binary does. Nothing else of the command is exported (layout.sh checks).
CMD_EXPORTS := -Wl,--export-dynamic-symbol=cli_wordlist

$(BUILD)/doormat: $(DOORMAT_OBJ) $(LIBS_ALL)
	$(CC) $(LDFLAGS) $(CMD_EXPORTS) -o $@ $(DOORMAT_OBJ) $(BUILD)/libdoormat-labs.a \
	  $(BUILD)/libdoormat-bench.a $(BUILD)/libdoormat.a $(LDLIBS)

$(BUILD)/doormat-net: $(DOORMAT_NET_OBJ) $(LIBS_ALL) $(BUILD)/libdoormat-service.a
	$(CC) $(LDFLAGS) $(CMD_EXPORTS) -o $@ $(DOORMAT_NET_OBJ) $(BUILD)/libdoormat-labs.a \
	  $(BUILD)/libdoormat-bench.a $(BUILD)/libdoormat-service.a $(BUILD)/libdoormat.a \
	  $(SVC_LIBS) $(LDLIBS)

# The command's small helpers (cli/util.c) have a unit test of their own.
$(BUILD)/tests/test_cli_util: tests/test_cli_util.c $(BUILD)/obj/cli/util.o $(BUILD)/obj/cli/exit.o $(LIBS_ALL) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -Icli $(LDFLAGS) -o $@ $< $(BUILD)/obj/cli/util.o $(BUILD)/obj/cli/exit.o $(LIBS_ALL) \
	  $(CMOCKA_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(LIBS_ALL) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $(ROOM_INC) $(LDFLAGS) -o $@ $< $(LIBS_ALL) $(CMOCKA_LIBS) -lz \
	  $(LDLIBS)

# Unit tests of the service room link its archive and libraries too.
$(BUILD)/tests/test_service%: tests/test_service%.c $(BUILD)/libdoormat-service.a \
                              $(BUILD)/libdoormat.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -Iservice $(SVC_CFLAGS) $(LDFLAGS) -o $@ $< \
	  $(BUILD)/libdoormat-service.a $(BUILD)/libdoormat.a $(CMOCKA_LIBS) -lz $(SVC_LIBS) $(LDLIBS)

# build-deps: what building needs (the compiler included); deps: that and
# every peer and tool the tests, the demo and the benchmarks use (Debian).
BUILD_PKGS := build-essential pkg-config libsodium-dev libssl-dev libssh-dev libevent-dev \
              libcurl4-openssl-dev libfiu-dev libjansson-dev
DEB_PKGS := $(BUILD_PKGS) openssh-client libcmocka-dev zlib1g-dev pkg-config age expect time \
            libgfshare2 fiu-utils \
            hyperfine gpg gpg-agent \
            valgrind python3-cryptography golang-go golang-golang-x-mod-dev curl openssl \
            systemd lighttpd lighttpd-mod-openssl
# nodejs and npm run the hybrid interop peer (tests/e2e/hybrid_npm.sh, age-encryption
# from npm); a machine that already has an npm of its own (another nodejs than
# Debian's) keeps it.
deps:
	@./tools/deps.sh $(DEB_PKGS)
	@command -v npm >/dev/null 2>&1 || ./tools/deps.sh nodejs npm

build-deps:
	@./tools/deps.sh $(BUILD_PKGS)

unit: deps
	+@$(INNER) binaries $(TEST_BIN)
	@./tests/run-unit.sh $(BUILD)

e2e: deps
	+@$(INNER) binaries
	@DOORMAT=$(abspath $(BUILD)/doormat) DOORMAT_BUILD=$(abspath $(BUILD)) \
	  TLOG_BENCH=$(abspath $(BUILD)/bench/tlog-bench) DOORMAT_CC="$(CC) $(EXTRA_LDFLAGS)" \
	  ./tests/run-e2e.sh

check: deps
	+@$(INNER) binaries $(TEST_BIN)
	@./tests/run-unit.sh $(BUILD)
	@DOORMAT=$(abspath $(BUILD)/doormat) DOORMAT_BUILD=$(abspath $(BUILD)) \
	  TLOG_BENCH=$(abspath $(BUILD)/bench/tlog-bench) DOORMAT_CC="$(CC) $(EXTRA_LDFLAGS)" \
	  ./tests/run-e2e.sh

sanitize: deps
	@./tools/deps.sh $(FUZZ_PKGS)
	@$(MAKE) --no-print-directory BUILD=build-san CC=clang OPT=-O1 \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -U_FORTIFY_SOURCE" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" check

# memcheck: tests/run-e2e.sh with DOORMAT pointing at a wrapper that runs the
# command under valgrind; any memory error or definite leak fails the run.
memcheck: deps
	+@$(INNER) binaries
	@DOORMAT_BUILD=$(abspath $(BUILD)) TLOG_BENCH=$(abspath $(BUILD)/bench/tlog-bench) \
	  ./tests/memcheck.sh $(abspath $(BUILD)/doormat)

# fuzz: libFuzzer (clang), each target in fuzz/ for FUZZ_SECONDS, one at a time, nice'd.
FUZZ_PKGS    := clang libclang-rt-14-dev
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
                -U_FORTIFY_SOURCE

fuzz-build:
	@./tools/deps.sh $(DEB_PKGS) $(FUZZ_PKGS)
	+@$(INNER) BUILD=build-fuzz CC=clang OPT=-O1 \
	  EXTRA_CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" EXTRA_LDFLAGS="$(FUZZ_SAN)" fuzz-bins

fuzz-bins: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)

$(BUILD)/fuzz/%: fuzz/%.c $(wildcard fuzz/*.h) $(BUILD)/libdoormat.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ifuzz -Ivault -Iescrow -fsanitize=fuzzer $(LDFLAGS) -o $@ $< \
	  $(BUILD)/libdoormat.a $(LDLIBS)

fuzz: fuzz-build
	@./tools/fuzz.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

# The briefing (doormat report) needs jq and gnuplot, and Chromium, a font and python3 (which
# drives Chromium's print for the running header and page numbers) for briefing.pdf; its check
# needs poppler-utils too (pdftoppm, pdftotext) to look at the printed pages.
REPORT_PKGS       := jq gnuplot-nox chromium fonts-dejavu-core python3
REPORT_CHECK_PKGS := poppler-utils
report-deps:
	@./tools/deps.sh $(REPORT_PKGS)

check-report: deps
	@./tools/deps.sh $(REPORT_PKGS) $(REPORT_CHECK_PKGS)
	+@$(INNER) binaries
	@./tests/check-report.sh $(BUILD)

# The demo needs only the build, age (to show a standard client reading escrowed files) and
# what the briefing needs; make deps adds the tools of the tests and benchmarks.
DEMO_PKGS := age
demo: build-deps report-deps
	@./tools/deps.sh $(DEMO_PKGS)
	+@$(INNER) binaries
	@./demo/classroom.sh $(DEMO_FLAGS)

# The version of the library, for doormat.pc (read from the public header).
VERSION := $(shell sed -n 's/^\#define DM_VERSION "\(.*\)"$$/\1/p' include/doormat/vault.h)

# What is installed: the command and doormat-net (PREFIX/lib/doormat, where
# the command looks for it), the plugin programs, the two shared libraries
# with their soname links, their headers and .pc files, the man page, the
# briefing's script and the systemd units. The archives stay in the build:
# they hold the lab-only operations (escrow/escrow_lab.h) that the shared
# libraries hide.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/doormat \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/lib/doormat
	install -m 0755 $(BUILD)/doormat $(DESTDIR)$(PREFIX)/bin/doormat
	install -m 0755 $(BUILD)/doormat-net $(DESTDIR)$(PREFIX)/lib/doormat/doormat-net
	install -m 0755 $(PLUGIN_BIN) $(DESTDIR)$(PREFIX)/bin/
	for l in libdoormat libdoormat-service; do \
	  install -m 0755 $(BUILD)/$$l.so.$(SO_VERSION) $(DESTDIR)$(PREFIX)/lib/$$l.so.$(SO_VERSION) && \
	  ln -sf $$l.so.$(SO_VERSION) $(DESTDIR)$(PREFIX)/lib/$$l.so.$(SO_MAJOR) && \
	  ln -sf $$l.so.$(SO_MAJOR) $(DESTDIR)$(PREFIX)/lib/$$l.so || exit 1; \
	done
	for p in doormat doormat-service; do \
	  sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $$p.pc.in \
	    >$(DESTDIR)$(PREFIX)/lib/pkgconfig/$$p.pc && \
	  chmod 0644 $(DESTDIR)$(PREFIX)/lib/pkgconfig/$$p.pc || exit 1; \
	done
	install -m 0644 include/doormat/*.h $(DESTDIR)$(PREFIX)/include/doormat/
	install -m 0644 include/doormat/README.md $(DESTDIR)$(PREFIX)/include/doormat/README.md
	if [ -f docs/doormat.1 ]; then install -d $(DESTDIR)$(PREFIX)/share/man/man1 && \
	  install -m 0644 docs/doormat.1 $(DESTDIR)$(PREFIX)/share/man/man1/doormat.1; fi
	install -d $(DESTDIR)$(PREFIX)/share/doormat
	install -m 0755 demo/report.sh $(DESTDIR)$(PREFIX)/share/doormat/report.sh
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	for u in doormat-agent@ doormat-witness@; do \
	  sed 's|@BINDIR@|$(PREFIX)/bin|g' deploy/systemd/$$u.service.in \
	    >$(DESTDIR)$(PREFIX)/lib/systemd/system/$$u.service && \
	  chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/$$u.service || exit 1; \
	done

uninstall:
	rm -f $(PLUGIN_BIN:$(BUILD)/%=$(DESTDIR)$(PREFIX)/bin/%)
	rm -f $(DESTDIR)$(PREFIX)/bin/doormat $(DESTDIR)$(PREFIX)/lib/doormat/doormat-net \
	  $(foreach l,libdoormat libdoormat-service,$(DESTDIR)$(PREFIX)/lib/$(l).so \
	    $(DESTDIR)$(PREFIX)/lib/$(l).so.$(SO_MAJOR) $(DESTDIR)$(PREFIX)/lib/$(l).so.$(SO_VERSION)) \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig/doormat.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/doormat-service.pc \
	  $(DESTDIR)$(PREFIX)/share/man/man1/doormat.1 \
	  $(DESTDIR)$(PREFIX)/lib/systemd/system/doormat-agent@.service \
	  $(DESTDIR)$(PREFIX)/lib/systemd/system/doormat-witness@.service
	-rmdir $(DESTDIR)$(PREFIX)/lib/doormat 2>/dev/null
	rm -rf $(DESTDIR)$(PREFIX)/include/doormat $(DESTDIR)$(PREFIX)/share/doormat

# bench-tlog: the transparency log's figures (bench/tlog.sh; docs/benchmarks.md).
bench-tlog: all
	@./bench/tlog.sh $(BUILD) $(TLOG_BENCH_FLAGS)

# bench: doormat bench, in-process, every mode and size (BENCH_FLAGS="--quick" etc.).
bench: all
	@$(BUILD)/doormat bench $(BENCH_FLAGS)

# bench-service: one escrow agent over loopback HTTPS with 2-of-3 witness
# cosigning, at 1, 8 and 64 clients (bench/service.sh; SERVICE_SECONDS each;
# SERVICE_PROFILE=1 adds a perf profile of the agent at 64 clients).
SERVICE_SECONDS ?= 10
bench-service: all
	+@$(INNER) $(BUILD)/bench/service_load
	@./bench/service.sh $(BUILD) $(SERVICE_SECONDS)

$(BUILD)/bench/service_load: bench/service_load.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(SVC_LIBS)

# bench-compare: doormat beside age, gpg and openssl speed, whole processes
# (bench/compare); prints every figure and rewrites the results section of
# docs/benchmarks.md. COMPARE_FLAGS=--quick for a smoke run.
bench-compare: deps
	+@$(INNER) binaries
	@./bench/compare --update-docs docs/benchmarks.md $(COMPARE_FLAGS)

format:
	clang-format -i $(LIB_SRC) $(LABS_SRC) $(BENCH_SRC) $(SVC_SRC) bench/tlog-bench.c plugins/*.c \
	  bench/service_load.c $(CLI_SRC) $(TEST_SRC) \
	  $(wildcard include/doormat/*.h base/*.h vault/*.h tlog/*.h escrow/*.h labs/*.h bench/*.h \
	    service/*.h cli/*.h)

lint:
	@./tools/deps.sh cppcheck
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability -Iinclude $(ROOM_INC) \
	  -Iservice base vault tlog escrow labs bench/engine.c service cli plugins

clean:
	rm -rf build build-san build-fuzz
