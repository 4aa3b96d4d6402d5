# Two commands do everything on a fresh machine:
#   make book   create .venv if missing, install the pinned environment, build the HTML book
#   make test   the same set-up (plus Debian's chromium when missing), then every test: build with
#               warnings as errors, unit tests, the browser test of every built page (offline,
#               screenshots in _build/screenshots/) and strict nbval on every chapter notebook
#               (pytest's summary is the last line)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# MathJax, the widget manager and RequireJS, pinned in package-lock.json; the book serves them itself
NPM_STAMP := node_modules/.installed-stamp
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: env book test unit nbval browser execute bench bench-table clean chromium

# One BLAS/OpenMP thread for everything that executes chapters or tests: the same stored outputs on
# every machine (reductions do not depend on the core count), and no oversubscription on small
# problems. `make bench` keeps the caller's setting.
book test unit nbval browser execute: export OMP_NUM_THREADS := 1

env: $(STAMP) $(NPM_STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $(NPM_STAMP)

# Debian's Chromium for tests/test_browser.py, installed when missing (as root, or with sudo).
chromium:
	@command -v chromium >/dev/null || { SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; }

book: env
	$(BIN)/jupyter-book build .
	@echo "The book is built: open file://$(CURDIR)/_build/html/index.html"

test: env chromium
	$(BIN)/jupyter-book build . -W -n --keep-going
	MMCL_BROWSER_TEST=required $(BIN)/python -m pytest tests book $(NBVAL)

unit: env
	$(BIN)/python -m pytest tests --ignore=tests/test_browser.py

# The browser test alone, on the book already built in _build/html.
browser: env chromium
	MMCL_BROWSER_TEST=required $(BIN)/python -m pytest tests/test_browser.py

nbval: env
	$(BIN)/python -m pytest book $(NBVAL)

# Re-execute every chapter notebook in place with a real kernel (after changing a chapter or mmcl).
execute: env
	$(BIN)/python scripts/execute_notebooks.py book/*.ipynb

# The benchmark of chapter 6 (tens of minutes on 2 cores; BENCH_ARGS=--quick for a few minutes).
bench: env
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# The table quoted by chapter 6, regenerated from the saved runs in benchmarks/results/.
BENCH_JSON = $(addprefix benchmarks/results/,cpu_linear.json cpu_race.json cpu_weights.json \
             cpu_unpaired.json)
bench-table: env
	$(BIN)/python benchmarks/run.py --show $(BENCH_JSON) > benchmarks/results/cpu.txt

clean:
	rm -rf _build
