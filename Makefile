# nvme-stas-go build, test and install.
#
# Every target works on a fresh Debian 12 machine as root once `make deps` has run.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO        ?= go
PREFIX    ?= /usr/local
DESTDIR   ?=
BINDIR    ?= $(PREFIX)/bin
SBINDIR   ?= $(PREFIX)/sbin
FUZZTIME  ?= 10s
# End-to-end suite: which scenarios (a -test.run pattern) and the VM's wall-clock limit.
E2E_RUN     ?= .
E2E_TIMEOUT ?= 1800
STATICCHECK_VERSION := v0.8.2

# Version: the nearest tag, else the commit, else "dev" outside git.
VERSION ?= $(shell git describe --tags --dirty 2>/dev/null || git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/nvme-stas-go/stas/internal/version.Version=$(VERSION)

DAEMONS := $(filter stafd stacd,$(notdir $(wildcard cmd/*)))
TOOLS   := $(filter-out stafd stacd,$(notdir $(wildcard cmd/*)))

# Debian packages the project needs: the race detector's C toolchain, the D-Bus tools the
# tests drive, and everything the end-to-end VM runs (kernel, qemu, nvme-cli, avahi, udev).
DEB_PACKAGES := gcc libc6-dev git make xz-utils dbus dbus-bin libglib2.0-bin systemd \
	qemu-system-x86 linux-image-amd64 busybox-static cpio kmod nvme-cli \
	avahi-daemon avahi-utils udev iproute2

.PHONY: build test lint fuzz cover e2e e2e-shell demo check install uninstall deps clean

# build/bin also gets the test tools of test/cmd (the CDC simulator); install leaves them out.
build:
	@mkdir -p build/bin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o build/bin/ ./cmd/... ./test/cmd/...

test:
	$(GO) test -race -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './build/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) test/tools/fuzz.sh

cover:
	GO=$(GO) test/tools/cover.sh

# The end-to-end suite runs as root in a qemu VM booting the Debian kernel (the host has no
# NVMe modules); see docs/testing.md.
# Scenarios that need firmware tables (NBFT) get a boot of their own with the table.
e2e: build
	@mkdir -p build/e2e
	CGO_ENABLED=0 $(GO) test -c -tags e2e -o build/e2e/e2e.test ./test/e2e
	build/bin/mknbft -out build/e2e/NBFT
	test/vm/run.sh --timeout $(E2E_TIMEOUT) -- build/e2e/e2e.test -test.v -test.run '$(E2E_RUN)' -test.skip '^TestNBFT' -test.timeout 25m
	if echo TestNBFTDiscoveryController | grep -Eq '$(E2E_RUN)'; then \
		test/vm/run.sh --timeout $(E2E_TIMEOUT) --acpitable build/e2e/NBFT --env E2E_NBFT=1 -- \
			build/e2e/e2e.test -test.v -test.run '^TestNBFT' -test.timeout 10m; fi

# A shell in the VM, for exploring by hand.
e2e-shell: build
	test/vm/run.sh --shell

# The quick-start demo in the VM (test/demo/): a target with an mDNS-announced discovery
# controller, a referral and three subsystems; stafd and stacd converge, then one more
# subsystem is connected. The Debian packages are installed first if any is missing.
demo:
	@if ! st=$$(dpkg-query -W -f '$${db:Status-Status}\n' $(DEB_PACKAGES) 2>/dev/null) || \
		grep -qvx installed <<<"$$st"; then $(MAKE) --no-print-directory deps; fi
	@$(MAKE) --no-print-directory build
	test/demo/demo.sh

check: lint test fuzz e2e

install: build
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	for d in $(DAEMONS); do install -m 0755 build/bin/$$d $(DESTDIR)$(SBINDIR)/$$d; done
	for t in $(TOOLS); do install -m 0755 build/bin/$$t $(DESTDIR)$(BINDIR)/$$t; done

uninstall:
	for d in $(DAEMONS); do rm -f $(DESTDIR)$(SBINDIR)/$$d; done
	for t in $(TOOLS); do rm -f $(DESTDIR)$(BINDIR)/$$t; done

deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps installs Debian packages: run it as root"; exit 1; fi
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PACKAGES)
	@$(GO) version

clean:
	rm -rf build
