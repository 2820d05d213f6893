# vmroute: build, test and package both agents.
#   make demo   the two-site demo (as root; installs what it needs)
#   make test   everything CI runs: lint, unit tests with -race, integration tests
#   make bench  benchmarks, medians over several runs

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X github.com/vmroute/vmroute/shared/version.Version=$(VERSION) \
            -X github.com/vmroute/vmroute/shared/version.Commit=$(COMMIT)
BINARIES := vmroute-routeragent vmroute-hostagent vmroutectl
STATICCHECK_VERSION := v0.7.0
GREMLINS_VERSION := v0.5.0
GOBIN    := $(shell $(GO) env GOPATH)/bin
BENCH_COUNT ?= 6

PKG_VERSION ?= 0.1.0
PKG_RELEASE ?= $(shell git rev-list --count HEAD 2>/dev/null || echo 1)
ARCHES := amd64 arm64

.PHONY: all build test deps lint unit mutate vmtest bench demo clean packages packages-check install-check appliance appliance-ova

all: build

build:
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ $(addprefix ./cmd/,$(BINARIES))

test: deps lint unit packages-check install-check vmtest

# Installs the Debian packages the integration tests use, when root and
# when missing.
deps:
	@tests/install-deps.sh

lint:
	@echo '== gofmt'; out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@echo '== go vet'; $(GO) vet ./...
	@echo '== go mod tidy'; $(GO) mod tidy -diff
	@echo '== staticcheck'; \
		if [ -x $(GOBIN)/staticcheck ] || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); then \
			$(GOBIN)/staticcheck ./...; \
		elif [ "$$CI" = true ]; then echo 'staticcheck $(STATICCHECK_VERSION) did not install from the module proxy: CI fails without it'; exit 1; \
		else echo 'WARNING: staticcheck $(STATICCHECK_VERSION) did not install from the module proxy; skipped'; fi

unit:
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo '**********************************************************************'; \
		echo 'WARNING: not root: the integration tests that need network namespaces'; \
		echo '(BGP against BIRD and gobgpd, gateway announcements, daemon restart and'; \
		echo 'address discovery, the end-to-end lab) will SKIP. Run make test as root.'; \
		echo '**********************************************************************'; \
	fi
	@echo '== go test -race'; $(GO) test -race -count=1 -timeout 30m -json ./... | $(GO) run ./tests/testsum

# Mutation testing of the pure core with gremlins: each package's own
# tests must kill 90% of the mutants they reach (efficacy) and reach 85% of
# them (mutator coverage), and at most 2% of the mutants may time out
# (a timed-out mutant counts neither way in gremlins' figures). awk checks
# the figures gremlins prints: gremlins v0.5.0 reads its --threshold-*
# flags as strings and then ignores them, so it never fails on them. The
# coverage run is a real one (GOFLAGS=-count=1), not one from the test
# cache, since gremlins times the mutants' runs by it. The planner's
# property test runs 200 worlds per mutant instead of 2,000
# (VMROUTE_WORLDS=short). The few mutants that live are equivalent: they
# change no behaviour (README.md, Development).
# Each package with the factor by which a mutant's tests may run longer
# than the unmutated ones: the packages whose tests run in a second or
# less get 30, since building a mutant takes longer than that.
MUTATE_PKGS := routeragent/plan:10 routeragent/intake:10 routeragent/liveness:30 routeragent/bgp/attrs:30 \
	routeragent/announce/frames:30 shared/wire:10 shared/pki:30 hostagent/inventory:60 hostagent/sitemap:30 \
	hostagent/report:10 hostagent/appliance:10 shared/support:30
mutate:
	@if [ ! -x $(GOBIN)/gremlins ] && ! $(GO) install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION); then \
		echo 'gremlins $(GREMLINS_VERSION) did not install from the module proxy'; exit 1; fi
	@fail=0; for pc in $(MUTATE_PKGS); do p=$${pc%:*}; \
		echo "== gremlins ./$$p"; \
		GOFLAGS=-count=1 VMROUTE_WORLDS=short $(GOBIN)/gremlins unleash --timeout-coefficient $${pc#*:} \
			./$$p > mutate.log 2>&1 || fail=1; \
		grep -E 'LIVED|NOT COVERED|TIMED OUT|^Killed|^Timed|efficacy|coverage|completed|rror' mutate.log; \
		awk '/^Killed:/ {k = $$2 + 0; l = $$4 + 0} /^Timed out:/ {t = $$3 + 0} \
			/^Test efficacy:/ {e = $$3 + 0} /^Mutator coverage:/ {c = $$3 + 0} \
			END {n = k + l + t; if (n == 0 || t * 50 > n) {printf "FAIL: %d of %d mutants timed out (more than 2%%), or none ran\n", t, n; exit 1} \
				if (e < 90 || c < 85) {printf "FAIL: efficacy %.2f%% (at least 90%%), mutator coverage %.2f%% (at least 85%%)\n", e, c; exit 1}}' mutate.log || fail=1; \
	done; rm -f mutate.log; exit $$fail

# Each agent's package inside a Debian VM under qemu (KVM when /dev/kvm
# works, else TCG): real systemd, and a kernel with 8021q and sch_netem,
# where the lab also runs once with tc netem. Then the appliance: its OVA
# imported into vcsim, and booted twice. Builds the VM image once
# (tests/vm/image.sh, cached in /var/cache/vmroute-tests/vm: about a
# minute).
vmtest: packages-check
	@if [ "$$(id -u)" -ne 0 ]; then echo 'WARNING: not root: the VM tests and the appliance SKIPPED (they build images and boot them)'; \
	else $(MAKE) appliance-ova && echo '== VM tests' && \
		VMROUTE_VM_DIST=$(abspath dist) VMROUTE_APPLIANCE_OVA=$(abspath $(APPLIANCE_OVA)) $(GO) test -count=1 -v -timeout 40m ./tests/vm/; fi

# Every benchmark BENCH_COUNT times, but the 60-second load and soak tests and the
# hostagent's vcsim scale test (a minute; VMROUTE_SCALE_VMS and
# VMROUTE_SCALE_MOVES set its size) once, and the hostagent's sync of
# 10,000 real-sized VMs (BenchmarkSync10k, half a minute) 3 times; then, as root, the lab's
# convergence benchmark (bench-results/).
bench: deps build
	$(GO) test -run '^$$' -bench . -skip 'BenchmarkReportLoad|BenchmarkSoak|BenchmarkScale$$|BenchmarkSync10k' -benchmem -count $(BENCH_COUNT) ./... | tee bench.txt
	$(GO) test -run '^$$' -bench BenchmarkReportLoad -benchtime 1x ./routeragent/daemon/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench BenchmarkSoak -benchtime 1x ./routeragent/daemon/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'BenchmarkScale$$' -benchtime 1x -timeout 30m ./hostagent/agent/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'BenchmarkSync10k' -benchtime 1x -count 3 -timeout 30m ./hostagent/agent/ | tee -a bench.txt
	@echo '== medians'; awk -f tests/medians.awk bench.txt
	@if [ "$$(id -u)" -eq 0 ]; then \
		$(GO) build -o bin/vmroute-lab ./cmd/vmroute-lab && ./bin/vmroute-lab -bin bin bench; \
	else echo 'WARNING: not root: the lab convergence benchmark SKIPPED'; fi

# .deb and .rpm of both agents and of vmroutectl, which both depend on,
# for each architecture, into dist/, with
# nfpm from its own module under packaging/. PKG_SIGNING_KEY, an
# ASCII-armored OpenPGP secret key file, signs the .rpm files.
packages:
	@for arch in $(ARCHES); do \
		echo "== binaries for linux/$$arch"; \
		GOOS=linux GOARCH=$$arch CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/linux-$$arch/ $(addprefix ./cmd/,$(BINARIES)) || exit 1; \
	done
	rm -f dist/*.deb dist/*.rpm
	cd packaging && $(GO) run ./mkpkg -version $(PKG_VERSION) -release $(PKG_RELEASE) -bin ../bin -out ../dist \
		$(if $(PKG_SIGNING_KEY),-sign $(abspath $(PKG_SIGNING_KEY)))

# The checks sign with PKG_SIGNING_KEY, or with a throw-away key made once
# in dist/, and verify the signatures with its public half (KEY.pub).
TEST_SIGNING_KEY = dist/test-signing-key.asc
$(TEST_SIGNING_KEY):
	mkdir -p dist && cd packaging && $(GO) run ./mkpkg -genkey ../$@

packages-check: $(if $(PKG_SIGNING_KEY),,$(TEST_SIGNING_KEY))
	$(MAKE) packages PKG_SIGNING_KEY=$(or $(PKG_SIGNING_KEY),$(TEST_SIGNING_KEY))
	@echo '== packages'; tests/packages.sh $(or $(PKG_SIGNING_KEY),$(TEST_SIGNING_KEY)).pub

# The hostagent appliance, dist/vmroute-hostagent-appliance-VERSION.ova
# (as root): Debian bookworm with the hostagent's .deb, configured from
# its OVF properties at every boot. The Debian root is cached in
# /var/cache/vmroute-build (a few minutes the first time).
APPLIANCE_OVA = dist/vmroute-hostagent-appliance-$(PKG_VERSION)-$(PKG_RELEASE).ova
appliance: packages
	$(MAKE) appliance-ova

# The OVA around the hostagent's and vmroutectl's .deb already in dist/.
appliance-ova:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/linux-amd64/ ./cmd/vmroute-appliance
	rm -f dist/vmroute-hostagent-appliance-*.ova
	packaging/appliance/build.sh dist/vmroute-hostagent_$(PKG_VERSION)-$(PKG_RELEASE)_amd64.deb dist/vmroutectl_$(PKG_VERSION)-$(PKG_RELEASE)_amd64.deb \
		bin/linux-amd64/vmroute-appliance $(PKG_VERSION)-$(PKG_RELEASE) $(APPLIANCE_OVA)

# Installs, upgrades and purges the packages in a fresh Debian root.
install-check: packages-check
	@echo '== install'; tests/install.sh

# The two-site lab: vcsim, two site routers, a WAN router with BIRD, a
# client and a VM, in network namespaces; VMs move, vmroute follows.
demo: deps build
	$(GO) build -o bin/vmroute-lab ./cmd/vmroute-lab
	./bin/vmroute-lab -bin bin demo
	./bin/vmroute-lab -bin bin siteloss a

clean:
	rm -rf bin dist bench-results bench.txt
