# Tether build. `make run` and `make test` work on a fresh Debian clone: both
# depend on `deps`, which apt-installs whatever is missing.
# Parallel by default: a fresh build is a few minutes on two cores.
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif
CXX      ?= g++
CC       ?= gcc
BUILD    ?= build
LLHTTP_INC := /usr/share/include/llhttp
LLHTTP_SRC := /usr/share/llhttp

OPT      ?= -O2
CXXFLAGS += -std=c++20 $(OPT) -g -Wall -Wextra -I. -I$(LLHTTP_INC) -MMD -MP
CFLAGS   += $(OPT) -g -w -I$(LLHTTP_INC) -MMD -MP
LDLIBS   += -luv -lmbedtls -lmbedx509 -lmbedcrypto -lcjson -lsqlite3 -lpthread

ifeq ($(SAN),1)
  BUILD    := build-san
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
  CXXFLAGS += $(SANFLAGS)
  CFLAGS   += $(SANFLAGS)
  LDFLAGS  += $(SANFLAGS)
endif

DEB_PACKAGES := build-essential pkg-config libuv1-dev node-llhttp libmbedtls-dev libcjson-dev \
                libsqlite3-dev googletest libgtest-dev libbenchmark-dev curl openssl
# Tools found by command rather than by package: a machine may have them from
# elsewhere (node from NodeSource conflicts with Debian's npm package).
DEB_TOOLS    := node:nodejs npm:npm

COMMON_SRCS := $(wildcard common/*.cc)
EDGE_SRCS   := $(filter-out edge/main.cc,$(wildcard edge/*.cc))
HUB_SRCS    := $(filter-out hub/main.cc,$(wildcard hub/*.cc hub/*/*.cc))
TOOL_SRCS   := $(wildcard tests/tools/*.cc)
TEST_SRCS   := $(wildcard tests/unit/*/*_test.cc tests/unit/*/*/*_test.cc)
LLHTTP_OBJS := $(BUILD)/llhttp/llhttp.o $(BUILD)/llhttp/api.o $(BUILD)/llhttp/http.o

obj = $(patsubst %.cc,$(BUILD)/obj/%.o,$(1))

LIBTETHER := $(BUILD)/libtether.a
LIBEDGE   := $(BUILD)/libedge.a
LIBHUB    := $(BUILD)/libhub.a
TOOLS     := $(patsubst tests/tools/%.cc,$(BUILD)/%,$(TOOL_SRCS))

.PHONY: all deps run test unit e2e bench load fuzz soak clean install uninstall
all: $(BUILD)/edge $(BUILD)/hub $(TOOLS)

# Installs only what is missing, so a machine that has everything is not touched.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	for t in $(DEB_TOOLS); do command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get install -y -q $$missing || { $$SUDO apt-get update -q && $$SUDO apt-get install -y -q $$missing; }; \
	fi
	@[ -d tests/e2e/node_modules ] || (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)

$(BUILD)/llhttp/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(LIBTETHER): $(call obj,$(COMMON_SRCS)) $(LLHTTP_OBJS)
	@rm -f $@; ar rcs $@ $^
$(LIBEDGE): $(call obj,$(EDGE_SRCS))
	@rm -f $@; ar rcs $@ $^
$(LIBHUB): $(call obj,$(HUB_SRCS))
	@rm -f $@; ar rcs $@ $^

$(BUILD)/edge: $(call obj,edge/main.cc) $(LIBEDGE) $(LIBTETHER)
	$(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(BUILD)/hub: $(call obj,hub/main.cc) $(LIBHUB) $(LIBTETHER)
	$(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@
$(BUILD)/%: $(BUILD)/obj/tests/tools/%.o $(LIBHUB) $(LIBTETHER)
	$(CXX) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/unit_tests: $(call obj,$(TEST_SRCS)) $(LIBEDGE) $(LIBHUB) $(LIBTETHER)
	$(CXX) $(LDFLAGS) $^ $(LDLIBS) -lgtest -lgtest_main -o $@

# deps first, then the build: with -j they must not race on a fresh machine.
run: deps
	@$(MAKE) --no-print-directory all
	@tests/tools/run_local.sh $(BUILD)

unit: deps
	@$(MAKE) --no-print-directory $(BUILD)/unit_tests
	$(BUILD)/unit_tests

# Unit tests (GoogleTest) and end-to-end tests (node:test driving real
# binaries), with one combined `N passed, N failed` line at the end.
test: deps
	@$(MAKE) --no-print-directory all $(BUILD)/unit_tests
	@tests/run_all.sh $(BUILD)

e2e: deps
	@$(MAKE) --no-print-directory all
	TETHER_BUILD=$(BUILD) node --test --test-reporter=spec tests/e2e/

# 1,000 concurrent streams for 60 s, and a 30-minute mixed soak (not tests).
load: deps
	@$(MAKE) --no-print-directory all
	TETHER_BUILD=$(BUILD) node tests/bench/load.mjs --streams 1000 --seconds 60
soak: deps
	@$(MAKE) --no-print-directory all
	TETHER_BUILD=$(BUILD) node tests/bench/load.mjs --soak --seconds 1800

# Benchmarks (not tests): direct vs an nginx relay pair vs Tether, on loopback.
bench: deps
	@command -v nginx >/dev/null || apt-get install -y -q nginx-light
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh $(BUILD)

# libFuzzer targets (clang) for the HTTP parser, SSE, JSON and config loader;
# FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
fuzz: deps
	@command -v clang++ >/dev/null || apt-get install -y -q clang
	@tests/fuzz/run.sh $(BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf build build-san

# Objects are real targets, not intermediates to delete after linking.
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

PREFIX  ?= /usr/local
ETCDIR  ?= /etc/tether
UNITDIR ?= /etc/systemd/system
# Installs binaries, example configs (never overwriting existing ones) and units.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(ETCDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)/var/lib/tether
	install -m 0755 $(BUILD)/edge $(DESTDIR)$(PREFIX)/bin/tether-edge
	install -m 0755 $(BUILD)/hub $(DESTDIR)$(PREFIX)/bin/tether-hub
	for f in edge.json hub.json; do \
	  [ -e $(DESTDIR)$(ETCDIR)/$$f ] || install -m 0640 etc/$$f $(DESTDIR)$(ETCDIR)/$$f; \
	  install -m 0644 etc/$$f $(DESTDIR)$(ETCDIR)/$$f.example; \
	done
	sed 's|/usr/local/bin|$(PREFIX)/bin|' systemd/tether-edge.service > $(DESTDIR)$(UNITDIR)/tether-edge.service
	sed 's|/usr/local/bin|$(PREFIX)/bin|' systemd/tether-hub.service > $(DESTDIR)$(UNITDIR)/tether-hub.service
	@echo "installed; create the user with: useradd --system --home /var/lib/tether tether"

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/tether-edge $(DESTDIR)$(PREFIX)/bin/tether-hub
	rm -f $(DESTDIR)$(UNITDIR)/tether-edge.service $(DESTDIR)$(UNITDIR)/tether-hub.service
	rm -f $(DESTDIR)$(ETCDIR)/edge.json.example $(DESTDIR)$(ETCDIR)/hub.json.example
	@echo "left $(ETCDIR) configs and /var/lib/tether in place"
