# odfb — build, test, demo, bench.
# Every target works on a fresh Debian machine with Go; `.ci/run` installs
# the Debian packages the tests drive and then calls `make test`.

GO      ?= go
PREFIX  ?= /usr/local
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/odfb/odfb/internal/version.Version=$(VERSION)
# Race detector on for every package: the mount, the uploader and the
# emulator are all concurrent. TESTFLAGS lets a developer add -run, -v, …
TESTFLAGS ?=
TEST_TIMEOUT ?= 25m
# staticcheck at a pinned release, fetched through the Go module proxy by
# `go run` (nothing to install; the first run downloads it).
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all build man test lint vet fmt-check staticcheck complexity demo bench soak install deb clean

all: build

build:
	@mkdir -p bin
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/odfb ./cmd/odfb
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/spemu ./cmd/spemu

# Man pages odfb(1), mount.odfb(8) and the bash/zsh completions, written
# by odfb itself from the flag definitions --help prints (cmd/odfb/usage.go).
man: build
	@mkdir -p bin/man
	bin/odfb gendocs bin/man

lint: fmt-check vet staticcheck complexity

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Checks left out are listed, each with its reason, in staticcheck.conf.
staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

test: lint build
	$(GO) test -race -timeout $(TEST_TIMEOUT) -count=1 $(TESTFLAGS) ./...

# Function size in cache/ (issue 10: no function over 80 lines or
# cyclomatic complexity 20); fails naming the functions over either.
GOCYCLO ?= github.com/fzipp/gocyclo/cmd/gocyclo@v0.6.0
complexity:
	$(GO) run $(GOCYCLO) -over 20 -ignore _test cache/
	$(GO) run ./internal/funclen/cmd/funclen -over 80 cache

# The fault matrix at length (docs/reliability.md): SOAK_SEEDS seeds of
# every case, the fault cases included, SOAK_OPS operations per thread.
SOAK_SEEDS ?= 100
SOAK_OPS ?= 150
# The load run (16 threads under the race detector) lasts SOAK_LOAD_TIME.
SOAK_LOAD_TIME ?= 60s
soak: build
	MATRIX_FAULTS=1 MATRIX_SEEDS=$(SOAK_SEEDS) MATRIX_OPS=$(SOAK_OPS) MATRIX_LOAD_TIME=$(SOAK_LOAD_TIME) \
		$(GO) test -race -timeout 3h -count=1 -v -run TestMatrix ./internal/matrix

# Starts spemu on loopback with sample files and mounts it (see README).
demo: build
	@./scripts/demo.sh $(MNT)

# Benchmarks: odfb against rclone mount and davfs2 on the same spemu.
bench: build
	@./scripts/bench.sh

install: build man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/sbin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions
	install -m 0755 bin/odfb $(DESTDIR)$(PREFIX)/bin/odfb
	install -m 0755 bin/spemu $(DESTDIR)$(PREFIX)/bin/spemu
	install -m 0644 bin/man/odfb.1 $(DESTDIR)$(PREFIX)/share/man/man1/odfb.1
	install -m 0644 bin/man/mount.odfb.8 $(DESTDIR)$(PREFIX)/share/man/man8/mount.odfb.8
	install -m 0644 bin/man/odfb.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/odfb
	install -m 0644 bin/man/_odfb $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_odfb
	# mount(8) looks for mount.<type> helpers in /sbin only.
	ln -sf $(PREFIX)/bin/odfb $(DESTDIR)/sbin/mount.odfb

# Debian package bin/odfb_VERSION_ARCH.deb (packaging/deb/build.sh):
# the binary, /sbin/mount.odfb, the systemd unit, man pages, completions
# and docs; Depends: fuse3. DEB_VERSION is the version dpkg sees: a tag
# v1.2.3 gives 1.2.3, an untagged commit 0.0~gitYYYYMMDD.HASH.
DEB_VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null) && echo $${v\#v} | tr - '~' || \
	echo 0.0~git$$(git log -1 --format=%cd --date=format:%Y%m%d).$$(git rev-parse --short HEAD))
# The packaged binary is static (CGO_ENABLED=0): it depends on no shared
# library, so on nothing but fuse3.
deb: man
	@mkdir -p bin/deb
	CGO_ENABLED=0 $(GO) build -trimpath -buildmode=pie -ldflags '$(LDFLAGS)' -o bin/deb/odfb ./cmd/odfb
	./packaging/deb/build.sh '$(DEB_VERSION)'

clean:
	rm -rf bin
