# The platform's build, run and test entry points. `make help` lists them.
SHELL := /bin/bash
GO    ?= go
LOCAL := .local

TOOLS := .local/bin

.PHONY: help build tools deploy-tools demo up down status test fuzz verify-deploy bench bench-instructions load chaos vet clean ensure-postgres ensure-patroni ensure-prometheus ensure-chromium

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

build: ## build every command into bin/
	@mkdir -p bin
	$(GO) build -o bin/ ./cmd/...

ensure-postgres: ## install PostgreSQL's server (Debian package) if it is missing
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing PostgreSQL (Debian package postgresql) ..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else echo "PostgreSQL's server is missing: install the 'postgresql' package (as root, 'make' does it for you)"; exit 1; fi

ensure-patroni: ensure-postgres ## install Patroni and etcd, its store (Debian packages patroni, python3-etcd, etcd-server) if missing; their services stay off
	@if command -v patroni >/dev/null && command -v etcd >/dev/null && $$(sed -n '1s/^#!//p' $$(command -v patroni)) -c 'import etcd' 2>/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Patroni and etcd (Debian packages patroni python3-etcd etcd-server) ..."; \
		policy=; if [ ! -e /usr/sbin/policy-rc.d ]; then policy=/usr/sbin/policy-rc.d; printf '#!/bin/sh\nexit 101\n' >$$policy; chmod 755 $$policy; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patroni python3-etcd etcd-server >/dev/null; rc=$$?; \
		[ -z "$$policy" ] || rm -f $$policy; \
		if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then systemctl disable etcd patroni >/dev/null 2>&1; fi; \
		exit $$rc; \
	else echo "Patroni or etcd is missing: install the packages patroni, python3-etcd and etcd-server (as root, 'make' does it for you)"; exit 1; fi

ensure-chromium: ## install Chromium (Debian package chromium) for the back office's browser tests if it is missing
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Chromium (Debian package chromium) ..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "Chromium is missing: install the package chromium (as root, 'make' does it for you)"; exit 1; fi

ensure-prometheus: ## install Prometheus and Alertmanager (Debian packages prometheus, prometheus-alertmanager: promtool, amtool) if missing; their services stay off
	@if command -v prometheus >/dev/null && command -v promtool >/dev/null && command -v prometheus-alertmanager >/dev/null && command -v amtool >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Prometheus and Alertmanager (Debian packages prometheus prometheus-alertmanager) ..."; \
		policy=; if [ ! -e /usr/sbin/policy-rc.d ]; then policy=/usr/sbin/policy-rc.d; printf '#!/bin/sh\nexit 101\n' >$$policy; chmod 755 $$policy; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null; rc=$$?; \
		[ -z "$$policy" ] || rm -f $$policy; \
		if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then systemctl disable prometheus prometheus-alertmanager >/dev/null 2>&1; fi; \
		exit $$rc; \
	else echo "Prometheus or Alertmanager is missing: install the packages prometheus and prometheus-alertmanager (as root, 'make' does it for you)"; exit 1; fi

tools: ## build the pinned Consul, stripe-mock and Mailpit from the Go module proxy into .local/bin (once)
	@deploy/tools/consul/build.sh >/dev/null
	@deploy/tools/stripemock/build.sh >/dev/null
	@deploy/tools/mailpit/build.sh >/dev/null

deploy-tools: ## build the pinned helm (v3.22.0) and terraform (v1.5.7) from the Go module proxy into .local/bin (once)
	@deploy/verify/tools/build-helm.sh >/dev/null
	@deploy/verify/tools/build-terraform.sh >/dev/null

up: ensure-patroni ensure-prometheus build tools ## start the platform (3 regions, Consul, WAN emulation, a Patroni database member per region) in the background; writes $(LOCAL)/cluster.json
	@bin/paylocal up -dir $(LOCAL) -bin bin -consul $(TOOLS)/consul

down: ## stop everything 'make up' started
	@if [ -x bin/paylocal ]; then bin/paylocal down -dir $(LOCAL); else $(GO) run ./cmd/paylocal down -dir $(LOCAL); fi

status: ## show what is running
	@$(GO) run ./cmd/paylocal status -dir $(LOCAL)

demo: ## bring the platform up, walk through payments and refunds, take it down (KEEP=1 keeps it up)
	@$(MAKE) --no-print-directory up
	@trap '[ -n "$(KEEP)" ] || $(MAKE) --no-print-directory down' EXIT; bin/paydemo -cluster $(LOCAL)/cluster.json -bin bin

# The packages whose tests start whole local platforms (many processes each): make test runs
# them after the others and one at a time, so that on a 2-core machine they do not starve each
# other or the rest.
MODULE := github.com/paycenter/paycenter
PLATFORM_TESTS := chaos cmd/loadtest deploy/localcluster deploy/localprom deploy/patroni

test: ensure-patroni ensure-prometheus ensure-chromium tools deploy-tools ## every test (-race): real PostgreSQL, Consul and stripe-mock; the deploy checks
	@mkdir -p bin && $(GO) build -o bin/paylocal ./cmd/paylocal
	@pgdir=$$(mktemp -d "$${TMPDIR:-/tmp}/paytest-pg.XXXXXX"); \
	url=$$(bin/paylocal pg start -dir $$pgdir) || exit 1; \
	trap "bin/paylocal pg stop -dir $$pgdir" EXIT; \
	echo "test PostgreSQL: $$url"; \
	export PAY_TEST_DATABASE_URL="$$url" PAY_REQUIRE_CONSUL=1 PAY_REQUIRE_STRIPE_MOCK=1 PAY_REQUIRE_PATRONI=1 PAY_REQUIRE_PROMETHEUS=1 PAY_REQUIRE_MAILPIT=1 PAY_REQUIRE_CHROMIUM=1; \
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v -x -F $(PLATFORM_TESTS:%=-e $(MODULE)/%)) && \
	echo "the packages that run whole platforms, one at a time: $(PLATFORM_TESTS)" && \
	$(GO) test -race -count=1 -timeout 20m -p 1 $(PLATFORM_TESTS:%=./%) && (cd sdk && $(GO) test -race -count=1 ./...) && \
	$(MAKE) --no-print-directory verify-deploy

FUZZTIME ?= 60s
fuzz: ensure-postgres ## fuzz every POST route's decoding and validation on a real PostgreSQL for FUZZTIME (default 60s; make test runs the seeds)
	@mkdir -p bin && $(GO) build -o bin/paylocal ./cmd/paylocal
	@pgdir=$$(mktemp -d "$${TMPDIR:-/tmp}/payfuzz-pg.XXXXXX"); \
	url=$$(bin/paylocal pg start -dir $$pgdir) || exit 1; \
	trap "bin/paylocal pg stop -dir $$pgdir" EXIT; \
	PAY_TEST_DATABASE_URL="$$url" $(GO) test ./cmd/payd -run '^$$' -fuzz '^FuzzPostBodies$$' -fuzztime $(FUZZTIME)

verify-deploy: deploy-tools ## offline checks of deploy/helm and deploy/terraform: helm lint/template, strict decoding, terraform fmt, HCL references
	@cd deploy/verify && PAY_REQUIRE_DEPLOY_TOOLS=1 $(GO) test -count=1 ./...

bench: ensure-postgres build ## pgbench TPS vs payments/s through the platform, p50/p99 at half load (three runs, the worst printed), CPU per operation (about 2.5 min)
	@bin/paybench -duration 20s -concurrency 16 -payd bin/payd

bench-instructions: ensure-postgres build ## instructions per payment (PostgreSQL, payd) and per pgbench transaction under valgrind's callgrind: figures the machine's load does not move (about 5 min)
	@bin/paybench -instructions 100 -payd bin/payd

load: build ## load the running platform ('make up' first); ARGS='-rate 90 -region us-east' etc.; reports in .local/load/
	@mkdir -p $(LOCAL)/load
	bin/loadtest -cluster $(LOCAL)/cluster.json -json $(LOCAL)/load/report.json -html $(LOCAL)/load/report.html \
		-history $(LOCAL)/load/history.jsonl -merchants-file $(LOCAL)/load/merchants.json $(ARGS)

chaos: up ## every chaos experiment under load on the local platform (about 16 minutes), exactly-once checked; takes it down after
	@trap '$(MAKE) --no-print-directory down' EXIT; $(GO) run ./cmd/chaos -cluster $(LOCAL)/cluster.json -experiments all -json $(LOCAL)/chaos.json $(CHAOS_FLAGS)

vet: ## go vet and gofmt check
	$(GO) vet ./...
	cd deploy/verify && $(GO) vet ./...
	cd sdk && $(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

# test-stress hunts flaky tests: the unit packages (all but those that start Consul or the
# whole platform, which stay with 'make test') run COUNT times under -race while two busy
# processes take CPUs from them, as a loaded CI machine would. PKGS narrows it to some
# packages, e.g. make test-stress PKGS='./core/wechatpay/ ./resilience/' COUNT=20.
.PHONY: test-stress
COUNT ?= 5
STRESS_SKIP := chaos cmd/loadtest deploy/localcluster regions
test-stress: ensure-postgres ## flake hunt: unit packages with -race, COUNT times (5; COUNT=20), beside 2 CPU hogs; PKGS= narrows
	@mkdir -p bin && $(GO) build -o bin/paylocal ./cmd/paylocal
	@pkgs="$(PKGS)"; mod=$$($(GO) list -m); \
	if [ -z "$$pkgs" ]; then pkgs=$$($(GO) list ./... | grep -Ev "^$$mod/($$(echo $(STRESS_SKIP) | tr ' ' '|'))(/|$$)"); fi; \
	pgdir=$$(mktemp -d "$${TMPDIR:-/tmp}/paystress-pg.XXXXXX"); \
	url=$$(bin/paylocal pg start -dir $$pgdir) || exit 1; \
	yes >/dev/null & hog1=$$!; yes >/dev/null & hog2=$$!; \
	trap "kill $$hog1 $$hog2 2>/dev/null; bin/paylocal pg stop -dir $$pgdir" EXIT; \
	echo "test PostgreSQL: $$url; CPU hogs: $$hog1 $$hog2; -count=$(COUNT)"; \
	PAY_TEST_DATABASE_URL="$$url" $(GO) test -race -count=$(COUNT) -timeout 60m $$pkgs

clean: down ## stop the platform and delete local state and binaries
	rm -rf $(LOCAL) bin
