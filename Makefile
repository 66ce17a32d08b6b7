# ksqsh — build, install, test and benchmark.  GNU make.
#
#   make                 release build (.build/release/ksqsh), self-contained: the Swift
#                        runtime is linked in, so it needs only C libraries to run
#   make man completions the man page and bash/zsh/fish completions, into .build/staging
#   make install         binary, man page, completions and (INIT=auto) the boot-time
#                        mount service under $(DESTDIR)$(PREFIX) (PREFIX=/usr/local)
#                        and $(DESTDIR)$(SYSCONFDIR) (/etc); builds only what is missing
#   make uninstall       removes what `make install` with the same variables wrote
#   make deps            build/test dependencies via apt-get (Debian) or emerge (Gentoo),
#                        and the Gentoo tools the tests run, in a local venv (.venv)
#   make dist            source and dependency tarballs for the ebuild, into $(DIST_DIR)
#   make test            build, then the test suite (needs root: it loop-mounts images);
#                        also builds Bench/ (debug), so the bench cannot rot
#   make test-portage    only the suites that run the hooks under real portage
#                        (emerge from .venv into scratch roots; root)
#   make reliability     the reliability suites, summarised as one table
#   make bench           ksqsh vs mksquashfs vs gensquashfs on a whole kernel tree,
#                        then (as root) cold-read builds from the tree and images;
#                        ksqsh-bench is its own package in Bench/ (make bench-tool)
#   make bench-quick     the same on drivers/net only (~20 s per tool)
#   make bench-cold      only bench's cold reads (make defconfig/modules_prepare
#                        from the tree and loop-mounted images; root)
#   make bench-reuse     upgrades: squash with --reuse of the previous image vs from
#                        scratch vs mksquashfs (point release, 0.5 % scattered, 6.1 → 6.12)
#   make bench-emerge    the whole emerge of the kernel tree under real portage,
#                        with ksqsh and without, fresh and as an upgrade (root)
#   make setup           deps + build + install + squash a kernel tree as a demo
#   make kernel-tree     unpack Debian's kernel source once into $(KSQSH_CACHE)
#   make fuzz            libFuzzer on the image-reading path for $(FUZZ_SECONDS) s (not part of `make test`)

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
# Not $(PREFIX)/etc: OpenRC reads its services from /etc/init.d only.
SYSCONFDIR  ?= /etc
INITDIR     ?= $(SYSCONFDIR)/init.d
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# The boot-time mount service to install: auto (what the running system
# uses), openrc ($(INITDIR)/ksqsh), systemd ($(SYSTEMDUNITDIR)/ksqsh-mount.service),
# both or none. Neither is enabled: rc-update add ksqsh boot, or
# systemctl enable ksqsh-mount.service.
INIT    ?= auto
DESTDIR ?=
SWIFT   ?= swift
INSTALL ?= install
# One source of truth: the version the CLI reports (`ksqsh --version`).
VERSION := $(shell sed -n 's/^ *version: "\([^"]*\)",$$/\1/p' Sources/ksqsh/Ksqsh.swift)

# The Swift runtime is linked statically: the binary needs only C libraries
# (libsquashfs, liblzma, libmount, zlib, zstd, libc, libstdc++) and keeps
# working after the toolchain that built it is gone (on Gentoo, dev-lang/swift
# is a build-time dependency). SWIFT_BUILD_FLAGS adds flags, e.g. the
# ebuild's offline and job-count flags.
SWIFT_BUILD_FLAGS ?=
SWIFT_BUILD       := $(SWIFT) build -c release --static-swift-stdlib $(SWIFT_BUILD_FLAGS)

RELEASE_DIR := .build/release
KSQSH       := $(RELEASE_DIR)/ksqsh

# ksqsh-bench, a developer tool: its own package in Bench/ (as Fuzz/ is),
# built in a scratch directory of its own, so `swift build` and the installed
# product never see it. It finds the ksqsh to measure at $(KSQSH).
BENCH_BUILD := .build/bench
KSQSH_BENCH := $(BENCH_BUILD)/release/ksqsh-bench

# What install copies besides the binary, generated from it into a staging
# directory first, so that a failure leaves nothing half-installed.
STAGING         := .build/staging
MAN_PAGE        := $(STAGING)/man/ksqsh.1
COMPLETIONS     := $(STAGING)/completions/ksqsh $(STAGING)/completions/_ksqsh $(STAGING)/completions/ksqsh.fish
GENERATE_MANUAL := $(RELEASE_DIR)/generate-manual
# The man page's date: SOURCE_DATE_EPOCH's (reproducible builds), else today.
MAN_DATE ?= $(shell date -u -d "@$${SOURCE_DATE_EPOCH:-$$(date +%s)}" +%Y-%m-%d)

# The unpacked Debian kernel source shared by `setup`, `bench` and
# ksqsh-bench itself (same paths and marker there). The tree counts as
# complete only once the marker exists: an interrupted unpack must not pass
# for a (smaller) kernel tree.
KSQSH_CACHE    ?= /var/cache/ksqsh
KERNEL_TARBALL ?= /usr/src/linux-source-6.12.tar.xz
KERNEL_NAME    := linux-source-6.12
KERNEL_TREE    := $(KSQSH_CACHE)/$(KERNEL_NAME)
KERNEL_MARKER  := $(KSQSH_CACHE)/.unpacked

# Extra arguments for ksqsh-bench, e.g. `make bench BENCH_ARGS='--runs 3'`.
BENCH_ARGS ?=

# Debian 12 packages: libraries the package links (libsquashfs1, mount, and
# liblzma, zlib and zstd for tarballs, via pkg-config), the reference tools
# the tests and bench compare against (with tar, git and the compressors
# that make test tarballs), shellcheck for generated hooks, the kernel
# source and what building it needs, /usr/bin/time, Debian's own Python
# with venv for the Gentoo tools below, and scanelf (pax-utils), which
# portage's estrip runs in the overlay's test build.
DEBIAN_PACKAGES := \
	libsquashfs-dev liblzma-dev zlib1g-dev libzstd-dev libmount-dev pkg-config \
	squashfs-tools squashfs-tools-ng shellcheck tar git xz-utils zstd bzip2 \
	linux-source-6.12 bc flex bison libelf-dev libssl-dev make gcc time \
	python3 python3-venv pax-utils strace

# The same for Gentoo; pkgconf is in every stage3 but SwiftPM needs it.
GENTOO_PACKAGES := \
	sys-fs/squashfs-tools-ng sys-fs/squashfs-tools app-arch/xz-utils sys-libs/zlib app-arch/zstd \
	sys-apps/util-linux dev-util/shellcheck virtual/pkgconfig app-arch/tar dev-vcs/git app-arch/bzip2 \
	sys-devel/bc sys-devel/flex sys-devel/bison virtual/libelf dev-libs/openssl dev-debug/strace

# Each recipe is one bash script: `set -euo pipefail` semantics throughout,
# and multi-line logic without backslash soup.
SHELL       := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := build
# SwiftPM parallelises the builds itself; at make level, `setup` relies on
# its prerequisites running left to right (deps before kernel-tree).
.NOTPARALLEL:

.PHONY: all build bench-tool bench-check man completions install uninstall install-check init-check deps system-deps venv dist test test-portage reliability bench bench-quick bench-cold bench-reuse bench-emerge kernel-tree setup clean

all: build

# SwiftPM decides what is stale.
build:
	$(SWIFT_BUILD) --product ksqsh

# Not self-contained like ksqsh (no --static-swift-stdlib): it runs where it
# was built, and it links Foundation, which ksqsh does not.
bench-tool:
	$(SWIFT) build --package-path Bench --scratch-path $(BENCH_BUILD) -c release

# What `make test` asks of the bench: that it still builds against the
# library (debug, the quicker build; same scratch directory as bench-tool).
bench-check:
	$(SWIFT) build --package-path Bench --scratch-path $(BENCH_BUILD)

# install and the staged files build the binary only when it is missing:
# an already-built tree installs without SwiftPM. (The tests run `make
# install` inside `swift test`, which holds SwiftPM's lock on .build.)
$(KSQSH):
	$(MAKE) --no-print-directory build

# swift-argument-parser's man page generator, run on our binary. Not through
# its generate-manual plugin: that builds every product again with its own
# flags, over the binary `make build` linked.
$(GENERATE_MANUAL):
	$(SWIFT_BUILD) --product generate-manual

man: $(MAN_PAGE)

completions: $(COMPLETIONS)

# One page: the tool's multi-page mode names pages ksqsh.hooks.install.1.
# Written beside its place and renamed, as are the completions: a failed
# run must not leave a file that make takes as up to date.
$(MAN_PAGE): $(KSQSH) $(GENERATE_MANUAL)
	rm -rf "$(@D).new"
	mkdir -p "$(@D).new"
	$(GENERATE_MANUAL) $(KSQSH) --date "$(MAN_DATE)" --output-directory "$(@D).new"
	mkdir -p "$(@D)"
	mv "$(@D).new/ksqsh.1" "$@"
	rmdir "$(@D).new"

completion = mkdir -p "$(@D)" && $(KSQSH) --generate-completion-script $(1) > "$@.new" && mv "$@.new" "$@"
$(STAGING)/completions/ksqsh: $(KSQSH)
	$(call completion,bash)
$(STAGING)/completions/_ksqsh: $(KSQSH)
	$(call completion,zsh)
$(STAGING)/completions/ksqsh.fish: $(KSQSH)
	$(call completion,fish)

# INIT as the init systems it stands for; /run/openrc and /run/systemd/system
# exist only while that init system runs.
INIT_SYSTEMS = $(strip $(if $(filter auto,$(INIT)),\
	$(if $(wildcard /run/openrc/.),openrc) $(if $(wildcard /run/systemd/system/.),systemd),\
	$(if $(filter both,$(INIT)),openrc systemd,$(filter openrc systemd,$(INIT)))))

# Checked before anything is built or copied; $(error) makes each problem
# one line and a non-zero exit.
init-check:
	$(if $(filter-out 1,$(words $(INIT)))$(filter-out auto openrc systemd both none,$(INIT)),\
		$(error INIT=$(INIT) is not one of auto, openrc, systemd, both, none))

install-check: init-check
	$(if $(INSTALL_PROBLEM),$(error $(INSTALL_PROBLEM)))

INSTALL_PROBLEM = $(shell scripts/install-check.sh "$(DESTDIR)" "$(BINDIR)" "$(MANDIR)/man1" \
	"$(BASHCOMPDIR)" "$(ZSHCOMPDIR)" "$(FISHCOMPDIR)" \
	$(if $(filter openrc,$(INIT_SYSTEMS)),"$(INITDIR)") $(if $(filter systemd,$(INIT_SYSTEMS)),"$(SYSTEMDUNITDIR)"))

# The boot services name the installed binary, so they are rendered for
# each install (by the binary, from templates/), before anything is copied.
install: install-check $(KSQSH) $(MAN_PAGE) $(COMPLETIONS)
	mkdir -p $(STAGING)
	services=$$(mktemp -d $(STAGING)/services.XXXXXX)
	trap 'rm -rf "$$services"' EXIT
	for init in $(INIT_SYSTEMS); do
		$(KSQSH) hooks service "$$init" --helper "$(BINDIR)/ksqsh" > "$$services/$$init"
	done
	$(INSTALL) -Dm755 $(KSQSH) "$(DESTDIR)$(BINDIR)/ksqsh"
	$(INSTALL) -Dm644 $(MAN_PAGE) "$(DESTDIR)$(MANDIR)/man1/ksqsh.1"
	$(INSTALL) -Dm644 $(STAGING)/completions/ksqsh "$(DESTDIR)$(BASHCOMPDIR)/ksqsh"
	$(INSTALL) -Dm644 $(STAGING)/completions/_ksqsh "$(DESTDIR)$(ZSHCOMPDIR)/_ksqsh"
	$(INSTALL) -Dm644 $(STAGING)/completions/ksqsh.fish "$(DESTDIR)$(FISHCOMPDIR)/ksqsh.fish"
	$(if $(filter openrc,$(INIT_SYSTEMS)),$(INSTALL) -Dm755 "$$services/openrc" "$(DESTDIR)$(INITDIR)/ksqsh")
	$(if $(filter systemd,$(INIT_SYSTEMS)),$(INSTALL) -Dm644 "$$services/systemd" "$(DESTDIR)$(SYSTEMDUNITDIR)/ksqsh-mount.service")

# Exactly the files install writes with the same variables; directories stay.
uninstall: init-check
	rm -f "$(DESTDIR)$(BINDIR)/ksqsh" "$(DESTDIR)$(MANDIR)/man1/ksqsh.1" \
		"$(DESTDIR)$(BASHCOMPDIR)/ksqsh" "$(DESTDIR)$(ZSHCOMPDIR)/_ksqsh" "$(DESTDIR)$(FISHCOMPDIR)/ksqsh.fish" \
		$(if $(filter openrc,$(INIT_SYSTEMS)),"$(DESTDIR)$(INITDIR)/ksqsh") \
		$(if $(filter systemd,$(INIT_SYSTEMS)),"$(DESTDIR)$(SYSTEMDUNITDIR)/ksqsh-mount.service")

deps: system-deps venv

# Idempotent: installs only what is missing, and says so in one line when
# nothing is.
system-deps:
	@if [[ -f /etc/gentoo-release ]] && command -v emerge >/dev/null; then
		packages=($(GENTOO_PACKAGES))
		# dev-lang/swift builds LLVM from source: skip it when a toolchain is already here.
		command -v $(SWIFT) >/dev/null || packages+=(dev-lang/swift)
		[[ $$(id -u) -eq 0 ]] || { echo "make deps: run as root to emerge: $${packages[*]}" >&2; exit 1; }
		emerge --noreplace --quiet "$${packages[@]}"
	elif [[ -f /etc/debian_version ]] && command -v apt-get >/dev/null; then
		missing=()
		for package in $(DEBIAN_PACKAGES); do
			dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q '^install ok installed$$' \
				|| missing+=("$$package")
		done
		if (( $${#missing[@]} == 0 )); then
			echo "make deps: all Debian packages already installed"
			exit 0
		fi
		[[ $$(id -u) -eq 0 ]] || { echo "make deps: run as root to install: $${missing[*]}" >&2; exit 1; }
		echo "make deps: installing $${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq "$${missing[@]}"
	else
		echo "make deps: unsupported system: need Debian (apt-get) or Gentoo (emerge)." >&2
		echo "Install by hand: libsquashfs (squashfs-tools-ng), liblzma, libmount, pkg-config," >&2
		echo "squashfs-tools, shellcheck, a Swift 6 toolchain, and a kernel source tree." >&2
		exit 1
	fi

# Real portage and pkgcheck check the overlay in gentoo/, and the real
# eclean-kernel removes a kernel ksqsh built (make test), from PyPI into a
# venv of this checkout, never system-wide. Pinned: the newest
# pkgcore needs bash 5.3 and exits silently on Debian 12's 5.2, and
# tree-sitter-bash 0.25 speaks a grammar ABI tree-sitter 0.23 refuses.
# The stamp holds the pins, so a changed pin rebuilds the venv.
VENV        ?= .venv
PYTHON      ?= /usr/bin/python3
VENV_PINS   := portage==3.0.83 pkgcore==0.12.29 pkgcheck==0.10.33 snakeoil==0.10.11 \
	tree-sitter==0.23.2 tree-sitter-bash==0.23.3 eclean-kernel==2.99.10 distro==1.9.0
VENV_STAMP  := $(VENV)/ksqsh-pins

venv:
	@if [[ -f "$(VENV_STAMP)" && "$$(cat "$(VENV_STAMP)")" == "$(VENV_PINS)" && -x "$(VENV)/bin/pkgcheck" ]]; then
		echo "make deps: $(VENV) already has $(VENV_PINS)"
		exit 0
	fi
	command -v "$(PYTHON)" >/dev/null || { echo "make deps: $(PYTHON) is missing (Debian: python3 python3-venv)" >&2; exit 1; }
	echo "make deps: installing $(VENV_PINS) into $(VENV)"
	rm -rf "$(VENV)"
	"$(PYTHON)" -m venv "$(VENV)"
	"$(VENV)/bin/pip" install --quiet --disable-pip-version-check $(VENV_PINS)
	echo "$(VENV_PINS)" > "$(VENV_STAMP)"

# Plain `swift test`: the suites loop-mount real images and pace their own
# concurrency (`.serialized`), so no --parallel here.
# The suite's output is long and CI shows only its tail, so on failure the
# failing tests and their issues are printed again at the end. The release
# binary and its staged files are built first, as the suite must not start
# SwiftPM itself: tests run the binary with the Swift toolchain hidden, and
# run `make install` on it. The bench is only built (bench-check), never run.
test: build man completions bench-check
	@log=$$(mktemp /tmp/ksqsh-test.XXXXXX)
	trap 'rm -f "$$log"' EXIT
	status=0
	$(SWIFT) test 2>&1 | tee "$$log" || status=$$?
	if [ "$$status" -ne 0 ]; then
		echo
		echo "make test: failed (exit $$status); the failures again:"
		grep -E '^✘|^ *↳|error:' "$$log" | grep -v -E '^↳ (Testing Library Version|Target Platform|///)' | head -n 80 || true
	fi
	exit "$$status"

# The RealPortage suites alone: real emerge from .venv drives the generated
# hooks through installs, reinstalls, binpkgs, unmerges and failures in
# scratch roots. The machines install the release binary as "the installed
# ksqsh", so it is built first.
test-portage: build
	$(SWIFT) test --filter RealPortage

# Bad input, faults, kill points, corruption, … (scripts/reliability.sh):
# their reliability-summary lines as one table; fails if any test failed.
reliability:
	SWIFT="$(SWIFT)" scripts/reliability.sh

bench: build bench-tool kernel-tree
	$(KSQSH_BENCH) --source "$(KERNEL_TREE)" $(BENCH_ARGS)

bench-quick: build bench-tool kernel-tree
	$(KSQSH_BENCH) --source "$(KERNEL_TREE)" --quick $(BENCH_ARGS)

# The images are kept in /var/tmp/ksqsh-bench/images and rebuilt only when
# missing or (ksqsh's) older than the ksqsh binary.
bench-cold: build bench-tool kernel-tree
	$(KSQSH_BENCH) --source "$(KERNEL_TREE)" --cold-only $(BENCH_ARGS)

# Upgrades: squash with --reuse of the previous image vs from scratch vs
# mksquashfs (the 6.1 → 6.12 row needs linux-source-6.1 installed).
bench-reuse: build bench-tool kernel-tree
	$(KSQSH_BENCH) --source "$(KERNEL_TREE)" --reuse-only $(BENCH_ARGS)

# What a user waits for: the whole emerge of the full kernel tree under
# real portage, with ksqsh's hooks and without, fresh and as an upgrade.
# A benchmark kept beside the real-portage tests, whose machine it uses.
bench-emerge: build kernel-tree
	KSQSH_BENCH_EMERGE=1 $(SWIFT) test --filter EmergeTimingBench

kernel-tree: $(KERNEL_MARKER)

# Unpack beside the final name and rename, so a crash never leaves a partial
# tree under the real name. No prerequisite on the tarball: a newer
# linux-source package must not trigger a surprise minute-long re-unpack.
$(KERNEL_MARKER):
	@[[ -f "$(KERNEL_TARBALL)" ]] || {
		echo "$(KERNEL_TARBALL) is missing: run \`make deps\` (Debian package linux-source-6.12)." >&2
		exit 1
	}
	echo "Unpacking $(KERNEL_TARBALL) into $(KSQSH_CACHE) (once per machine)…"
	staging="$(KSQSH_CACHE)/.unpacking"
	rm -rf "$$staging" "$(KERNEL_TREE)"
	mkdir -p "$$staging"
	tar -xf "$(KERNEL_TARBALL)" -C "$$staging"
	mv "$$staging/$(KERNEL_NAME)" "$(KERNEL_TREE)"
	rmdir "$$staging"
	echo "done" > "$@"

# The main job, end to end: squash a kernel tree and verify the image.
# Gentoo: the tree /usr/src/linux points to, imaged under /var/tmp/ksqsh
# (never into /usr/src, which portage owns), named after the tree
# (linux-6.12.31-gentoo.sqfs). Elsewhere: the cached Debian tree.
# Decided when make starts, not in the recipe, so `make -n setup` stays a
# dry run (a recipe line that calls $(MAKE) is executed even under -n).
ifneq ($(wildcard /usr/src/linux/.),)
# Once ksqsh manages it, /usr/src/linux is a build dir whose `source` link leads to the sources.
SETUP_TREE  := $(realpath $(if $(wildcard /usr/src/linux/source),/usr/src/linux/source,/usr/src/linux))
SETUP_IMAGE := /var/tmp/ksqsh/$(patsubst linux-linux-%,linux-%,linux-$(notdir $(SETUP_TREE))).sqfs
SETUP_NEEDS :=
else
SETUP_TREE  := $(KERNEL_TREE)
SETUP_IMAGE := $(KSQSH_CACHE)/$(KERNEL_NAME).sqfs
SETUP_NEEDS := kernel-tree
endif

setup: deps build install $(SETUP_NEEDS)
	@ksqsh="$(DESTDIR)$(BINDIR)/ksqsh"
	if command -v emerge >/dev/null && [[ -d /etc/portage ]]; then
		"$$ksqsh" hooks install
		echo "make setup: portage hooks installed: the next 'emerge gentoo-sources' keeps its sources as an image."
	else
		echo "make setup: portage not found, so no hooks installed (on Gentoo: ksqsh hooks install)."
	fi
	mkdir -p "$(dir $(SETUP_IMAGE))"
	echo "make setup: $$ksqsh squash $(SETUP_TREE) $(SETUP_IMAGE) --verify --force"
	start=$$SECONDS
	"$$ksqsh" squash "$(SETUP_TREE)" "$(SETUP_IMAGE)" --verify --force
	echo "make setup: installed $$ksqsh, then squashed $(SETUP_TREE)"
	echo "            into $(SETUP_IMAGE) and verified it in $$((SECONDS - start)) s."

clean:
	$(SWIFT) package clean
	rm -rf $(STAGING)

# The templates are compiled into ksqsh, so the binary works wherever it is
# copied. This regenerates the Swift source holding them, keyed by file name:
# HookTemplate's raw values name the files, so no table of them lives here.
# Tests fail when it and templates/ disagree, or when a file in templates/
# has no HookTemplate case.
EMBEDDED_TEMPLATES := Sources/Portage/Hooks/EmbeddedTemplates.swift

.PHONY: templates
templates:
	@{
		echo "// Generated from templates/ by 'make templates'. Do not edit: edit templates/ instead."
		echo
		echo "/// Each file in templates/, by name (what HookTemplate's raw values are)."
		echo "package enum EmbeddedTemplates {"
		echo "    package static let files: [String: String] = ["
		for file in templates/*; do
			name=$$(basename "$$file")
			case "$$name" in
				*[!A-Za-z0-9._-]*) echo "make templates: '$$name' cannot be a Swift string key; rename it" >&2; exit 1 ;;
			esac
			echo "        \"$$name\": #\"\"\""
			sed -e 's/^/            /' -e 's/[[:space:]]*$$//' "$$file"
			echo "            \"\"\"#,"
		done
		echo "    ]"
		echo "}"
	} > $(EMBEDDED_TEMPLATES).new
	mv $(EMBEDDED_TEMPLATES).new $(EMBEDDED_TEMPLATES)
	echo "make templates: wrote $(EMBEDDED_TEMPLATES)"

# etc-portage/ is the example tree a default 'ksqsh hooks install' writes
# (helper /usr/local/bin/ksqsh, both init systems), laid out as
# etc-portage/{env/sys-kernel, local.d, systemd, kernel/postinst.d}. A test fails when it drifts.
.PHONY: etc-portage
etc-portage: build
	@staging=$$(mktemp -d)
	trap 'rm -rf "$$staging"' EXIT
	$(KSQSH) hooks install --root "$$staging" --init both --helper /usr/local/bin/ksqsh >/dev/null
	rm -rf etc-portage
	mkdir -p etc-portage/env/sys-kernel etc-portage/local.d etc-portage/systemd etc-portage/kernel/postinst.d
	cp -p "$$staging"/etc/portage/env/sys-kernel/* etc-portage/env/sys-kernel/
	cp -p "$$staging"/etc/local.d/ksqsh.* etc-portage/local.d/
	cp -p "$$staging"/etc/systemd/system/ksqsh-mount.service etc-portage/systemd/
	cp -p "$$staging"/etc/kernel/postinst.d/90-ksqsh etc-portage/kernel/postinst.d/
	echo "make etc-portage: regenerated etc-portage/"

# libFuzzer over the image-reading path of verify, mount and status
# (Fuzz/: its own package, so `swift build` and `swift test` never see it).
# New inputs go to .build/fuzz/corpus, seeded from the committed Fuzz/corpus;
# a crash, hang or out-of-memory input lands in .build/fuzz/artifacts: fix
# it, then add it to Tests/KernelSquashTests/Fixtures/fuzz-regressions/.
FUZZ_SECONDS ?= 120
FUZZ_BUILD   := .build/fuzz
FUZZ_ARGS    ?=

.PHONY: fuzz
fuzz:
	$(SWIFT) build --package-path Fuzz --scratch-path $(FUZZ_BUILD) -c release -Xswiftc -sanitize=fuzzer,address
	mkdir -p $(FUZZ_BUILD)/corpus $(FUZZ_BUILD)/artifacts
	# Huge allocations a damaged size asks libsquashfs for fail as they would
	# outside ASan (NULL, then a clean error) instead of aborting the run.
	ASAN_OPTIONS=allocator_may_return_null=1 $(FUZZ_BUILD)/release/ksqsh-fuzz \
		-max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=8192 \
		-max_len=65536 -artifact_prefix=$(FUZZ_BUILD)/artifacts/ -print_final_stats=1 \
		$(FUZZ_ARGS) $(FUZZ_BUILD)/corpus Fuzz/corpus

# The two tarballs the ebuild (gentoo/) fetches, into $(DIST_DIR):
#   ksqsh-V.tar.gz       the source at HEAD (git archive)
#   ksqsh-V-deps.tar.xz  the resolved Swift packages as SwiftPM leaves them
#                        after `swift package resolve`: .build/checkouts/*,
#                        .build/workspace-state.json and Package.resolved
# Both unpack into ksqsh-V/, where `swift build` then needs no network: it
# tries once to refill its repository cache, fails quietly, and builds from
# the checkouts that workspace-state.json pins.
# Same commit, same bytes: names sorted, owners 0, every mtime the commit's,
# gzip without a name or time, single-threaded xz. Only HEAD is packed, so a
# tree with uncommitted changes is refused rather than silently left out.
# The pins come from this checkout's Package.resolved when there is one.
DIST_DIR ?= .build/dist
DIST_DIRTY := make dist: the work tree has uncommitted changes; commit or stash them first (dist packs HEAD)

# Checked while the Makefile is read, so the refusal is one line (a failing
# recipe would add make's own "*** Error" line); the recipe checks again for
# a `dist` that runs as another target's prerequisite.
ifneq ($(filter dist,$(MAKECMDGOALS)),)
ifneq ($(shell git status --porcelain --untracked-files=no),)
$(error $(DIST_DIRTY))
endif
endif

dist:
	@[[ -z "$$(git status --porcelain --untracked-files=no)" ]] || { echo "$(DIST_DIRTY)" >&2; exit 1; }
	name="ksqsh-$(VERSION)"
	epoch=$$(git log -1 --format=%ct HEAD)
	mkdir -p "$(DIST_DIR)"
	staging=$$(mktemp -d "$(DIST_DIR)/.staging.XXXXXX")
	trap 'rm -rf "$$staging"' EXIT
	git archive --format=tar --prefix="$$name/" HEAD | gzip -n -9 > "$$staging/$$name.tar.gz"
	# Resolve in a copy of HEAD, so the developer's own .build stays out of it.
	mkdir "$$staging/resolve"
	git archive --format=tar HEAD | tar -x -C "$$staging/resolve"
	[[ ! -f Package.resolved ]] || cp Package.resolved "$$staging/resolve/"
	$(SWIFT) package --package-path "$$staging/resolve" resolve >&2
	# Each checkout as its pinned commit holds it: no .git, nothing SwiftPM wrote.
	tree="$$staging/deps/$$name"
	mkdir -p "$$tree/.build/checkouts"
	for checkout in "$$staging"/resolve/.build/checkouts/*/; do
		dependency=$$(basename "$$checkout")
		mkdir "$$tree/.build/checkouts/$$dependency"
		git -C "$$checkout" archive --format=tar HEAD | tar -x -C "$$tree/.build/checkouts/$$dependency"
	done
	cp "$$staging/resolve/.build/workspace-state.json" "$$tree/.build/"
	cp "$$staging/resolve/Package.resolved" "$$tree/"
	tar -C "$$staging/deps" --create --sort=name --format=gnu --mtime="@$$epoch" \
		--owner=0 --group=0 --numeric-owner --mode='a+rX,u+w,go-w' "$$name" |
		xz -T1 -6 --check=crc64 > "$$staging/$$name-deps.tar.xz"
	mv "$$staging/$$name.tar.gz" "$$staging/$$name-deps.tar.xz" "$(DIST_DIR)/"
	echo "make dist: wrote $(DIST_DIR)/$$name.tar.gz and $(DIST_DIR)/$$name-deps.tar.xz"

