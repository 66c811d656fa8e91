# Rust Allocation from First Principles: the two commands are `make run` and `make test`.
# Every target installs what it needs first (scripts/setup.sh is idempotent and fast when warm).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
export JUPYTER_PATH := $(CURDIR)/.venv/share/jupyter
export CARGO_TERM_COLOR := never

.PHONY: help setup run test test-start lab python-lock lock ordinary-user hub hub-stop hub-warm hub-update hub-setup hub-test hub-load hub-image hub-image-test bench rust-checks miri miri-setup notebook-hygiene notebook-run kernel-hostile \
	kernel-cache kernel-warm browser-setup browser-test slides notebook-slides reset update normalize clean
# JupyterLab refuses to start as root unless told; containers often run as root.
LAB_ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

help:
	@echo "make run    - set up if needed, execute every chapter headless, write build/index.html"
	@echo "make test   - fmt, clippy, unit/integration/doc tests, cargo doc, Miri, notebook hygiene and execution,"
	@echo "              hostile inputs in a live kernel, slides, and a headless-Chromium test of the pages"
	@echo "make lab    - open JupyterLab on notebooks/ with the rust kernel"
	@echo "make hub CLASS=class.txt [TEACHER=name HUB_IP=0.0.0.0 HUB_PORT=8000 HUB_CERT=.. HUB_KEY=.. or HUB_TLS=self-signed]"
	@echo "              - the course for a room, on this machine (root): one Unix user per learner, passwords"
	@echo "              printed once, https with the teacher's or a self-signed certificate; make hub-stop ends it"
	@echo "make hub-warm - pre-start the room before the session: every learner's server and a warmed kernel"
	@echo "              waiting (refuses a class that would not fit in memory); first chart after login in seconds"
	@echo "make hub-update - bring the course's current chapters to every learner (their edits kept)"
	@echo "make hub-load LEARNERS=20 WINDOW=120 - load test of a hub of its own (figures, not a pass/fail test)"
	@echo "make hub-image - the learners' image for Zero to JupyterHub (podman, Debian base; root; up to an hour once)"
	@echo "make slides - reveal.js slides of every chapter (build/slides/*.slides.html)"
	@echo "make reset CHAPTER=03 - restore chapter 03 to the course's version (your copy goes to notebooks/.backup/);"
	@echo "              make reset restores every chapter"
	@echo "make update - pull the course's updates (outputs never block it; edited chapters are saved first)"
	@echo "make bench  - criterion benchmarks of the support crate (reports in target/criterion)"
	@echo "make setup  - only install/check the toolchain, evcxr, the Python venv, the kernel and the git filter"

setup:
	@scripts/setup.sh

run: setup notebook-run

# make test keeps its temporary files (kernels' build folders, class lists, scratch notebooks) in a folder of its
# own, removed when it passes; COURSE_TEST_SKIPS collects one line per check that could not run on this machine
# or as this user, and the last line counts them.
# (under /tmp, made by mktemp: the hub test's learners must reach what it writes there, wherever the clone is).
ifneq ($(filter test,$(MAKECMDGOALS)),)
TEST_TMP := $(shell mktemp -d /tmp/course-test.XXXXXX)
endif
test: export TMPDIR := $(TEST_TMP)
test: export COURSE_TEST_SKIPS := $(TEST_TMP)/skipped
test: test-start setup python-lock miri-setup rust-checks miri notebook-hygiene notebook-run kernel-cache kernel-hostile kernel-warm notebook-slides browser-test hub-test hub-image-test ordinary-user
	@n=$$(sort -u $(COURSE_TEST_SKIPS) 2>/dev/null | wc -l); \
	if [ "$$n" = 0 ]; then echo "[test] all checks passed (none skipped)"; \
	else echo "[test] all checks passed, $$n skipped:"; sort -u $(COURSE_TEST_SKIPS) | sed 's/^/[test]   skipped: /'; fi; \
	rm -rf $(TEST_TMP)

test-start:
	@test -d "$(TEST_TMP)" || { echo "[test] error: no temporary folder (run 'make test')"; exit 1; }
	@chmod 755 $(TEST_TMP)

# The Python locks resolve with the real pip of every supported Python on this machine (3.10-3.13) and are
# what scripts/lock.sh makes of requirements.in and hub/requirements.in (a hand edit fails).
python-lock:
	@echo "[test] the Python locks on every supported Python (tests/python_lock.py)"; $(PY) tests/python_lock.py

# Regenerates requirements.txt and hub/requirements.txt from their .in files (uv, universal: Python 3.10-3.13).
lock:
	@scripts/lock.sh

# Miri's sysroot is built once per machine (about a minute); cargo test's Miri checks need it too.
miri-setup:
	@cargo +nightly miri setup >/dev/null 2>&1 || { echo "[test] error: miri setup failed: run 'rustup component add --toolchain nightly miri rust-src'"; exit 1; }

rust-checks:
	@echo "[test] cargo fmt --check"; cargo fmt --all -- --check
	@echo "[test] cargo clippy (-D warnings)"; cargo clippy --workspace --all-targets --quiet -- -D warnings
	@echo "[test] cargo test (unit, integration, doc, examples)"; cargo test --workspace --quiet
	@echo "[test] cargo doc (-D warnings)"; RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

miri: miri-setup
	@echo "[test] cargo +nightly miri test (support crate: the tests that touch raw memory)"
	@cargo +nightly miri test -p support --lib --tests --quiet

notebook-hygiene:
	@echo "[test] notebook runner unit tests"; $(PY) -m unittest discover -q -s tests -p "test_*.py"
	@$(PY) course/runner.py hygiene

notebook-run:
	@$(PY) course/runner.py execute

# The compiled-crate cache through real kernels: several at once, an edit, cells never cached.
kernel-cache:
	@echo "[test] the compiled-crate cache in live kernels (tests/kernel_cache.py)"; $(PY) tests/kernel_cache.py

# The worst inputs sent to a live kernel: it must answer or refuse each, and keep its variables.
kernel-hostile:
	@echo "[test] hostile inputs in a live kernel (tests/kernel_hostile.py)"; $(PY) tests/kernel_hostile.py

# The warm-kernel pool through a real JupyterLab server: a chapter gets a warmed kernel, a restart another,
# no warm-up variable, never one kernel for two chapters, nothing left after the server stops or is killed.
kernel-warm:
	@echo "[test] warm kernels in a live JupyterLab (tests/kernel_warm.py)"; $(PY) tests/kernel_warm.py

# A real browser on the built pages (after notebook-run): titles, navigation, inline SVG charts, folded
# solutions, monospace output. Installs Chromium on Debian as root; elsewhere says why it skips.
browser-setup:
	@scripts/setup.sh browser

browser-test: browser-setup
	@$(PY) tests/browser.py

slides: setup notebook-slides

notebook-slides:
	@$(PY) course/runner.py slides

reset:
	@scripts/reset.sh $(CHAPTER)

update: setup
	@scripts/update.sh

# Rewrites the notebooks in the form JupyterLab saves and the git filter commits (content unchanged).
normalize: setup
	@$(PY) course/runner.py normalize

# A room of learners: the shared read-only install under /opt/rust-alloc-course (COURSE_PREFIX), then
# JupyterHub from the class list. Needs root (learners are Unix users, bounded by cgroups).
HUB_IP ?= 127.0.0.1
HUB_PORT ?= 8000
TEACHER ?= teacher
LEARNERS ?= 20
WINDOW ?= 120

hub-setup: setup
	@scripts/setup_shared.sh

hub: hub-setup
	@test -n "$(CLASS)" || { echo "usage: make hub CLASS=class.txt (one learner name per line)"; exit 2; }
	@$(PY) hub/run.py start --class "$(CLASS)" --teacher "$(TEACHER)" --ip "$(HUB_IP)" --port "$(HUB_PORT)" \
	  $(if $(HUB_CERT),--cert "$(HUB_CERT)" --key "$(HUB_KEY)") $(if $(filter self-signed,$(HUB_TLS)),--self-signed) $(HUB_ARGS)

hub-stop:
	@[ "$$(id -u)" = 0 ] || { echo "make hub-stop needs root (the hub, its proxy and the learners' servers run as root and as the learners): sudo make hub-stop"; exit 1; }
	@$(PY) hub/run.py stop

# The room pre-started before the session: every learner's server and warmed kernel waiting (hub/prestart.py).
hub-warm:
	@[ "$$(id -u)" = 0 ] || { echo "make hub-warm needs root (it starts servers as the learners and reads their cgroups): sudo make hub-warm"; exit 1; }
	@$(PY) hub/run.py warm

hub-update: setup
	@$(PY) hub/run.py update --base "http://$(HUB_IP):$(HUB_PORT)"

# Security, isolation, bounds, restarts and a three-learner load test, on a hub of its own (root only).
hub-test: setup
	@if [ "$$(id -u)" != 0 ]; then why="the hub test: it needs root (learners are Unix users); run make test as root"; \
	echo "[test] skipped: $$why"; [ -z "$$COURSE_TEST_SKIPS" ] || echo "$$why" >> "$$COURSE_TEST_SKIPS"; \
	else scripts/setup_shared.sh && echo "[test] the course on JupyterHub (tests/hub_test.py)" && $(PY) tests/hub_test.py; fi

# A fresh clone, set up and chapter 0 run by a Unix user made for the test, with the system's /usr/bin/python3 and
# the machine's shared toolchain (root only: it makes the user; otherwise one line says it skipped).
ordinary-user: setup
	@echo "[test] the course as an ordinary user with the system's Python (tests/ordinary_user.py)"
	@if [ "$$(id -u)" = 0 ]; then scripts/setup_shared.sh; fi
	@$(PY) tests/ordinary_user.py

# The learners' image for Zero to JupyterHub (hub/k8s/Dockerfile), built with podman from a debootstrapped Debian base
# (root; about an hour from scratch on a busy 2-core machine, seconds when nothing changed). make test runs a chapter in it
# when it exists (tests/k8s_image.py) and otherwise says in one line that it skipped.
hub-image:
	@hub/k8s/build-image.sh

hub-image-test: setup
	@echo "[test] a chapter in the learners' image, offline, as the learner (tests/k8s_image.py)"; $(PY) tests/k8s_image.py

hub-load: hub-setup
	@$(PY) tests/hub_load.py --learners $(LEARNERS) --window $(WINDOW) $(if $(filter 1,$(PRESTART)),--prestart)

lab: setup
	.venv/bin/jupyter lab --notebook-dir=notebooks $(LAB_ROOT_FLAG) $(LAB_ARGS)

bench:
	cargo bench -p support

clean:
	rm -rf build target
