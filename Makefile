# Two commands do everything on a fresh machine:
#   make book   create .venv if missing, install the pinned environment, build the HTML book
#   make test   the same set-up (plus Debian's chromium when missing), then every test: build with
#               warnings as errors, unit tests, the browser test of every built page (offline,
#               screenshots in _build/screenshots/), a chapter run live in JupyterLab and strict
#               nbval on every chapter notebook, twice: under a second CPU kernel set first
#               (PORTABLE, below), then with this machine's own kernels (pytest's summary of that
#               last run is the last line)
#   make lab    the same set-up, then the chapters in JupyterLab (the .venv kernel, live widgets)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# MathJax, the widget manager and RequireJS, pinned in package-lock.json; the book serves them itself
NPM_STAMP := node_modules/.installed-stamp
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
# A second CPU kernel set on the same machine: torch's portable ATen kernels instead of AVX2/AVX-512
# and MKL's most compatible code path. Stored outputs that pass both ways do not depend on the CPU
# that executed them (another machine picks other vector kernels and BLAS paths; see README).
PORTABLE := ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE

.PHONY: env book test unit nbval portable browser live execute bench bench-table clean chromium lab \
	emoji pdf

# One BLAS/OpenMP thread for everything that executes chapters or tests: the same stored outputs on
# every machine (reductions do not depend on the core count), and no oversubscription on small
# problems. `make bench` keeps the caller's setting.
book test unit nbval portable browser live execute lab emoji pdf: export OMP_NUM_THREADS := 1
# The stored chapter outputs are CPU numbers: chapters and tests draw new tensors on the CPU
# even where CUDA is present (the unit tests still run on every device through their fixture).
book test unit nbval portable browser live execute: export MMCL_DEVICE := cpu

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

# Debian's colour emoji font and Unicode's emoji list for the images-and-captions chapter
# (mmcl.realdata.emoji_render), installed when missing (as root, or with sudo); then the rendered emoji are cached
# (mmcl.emoji_cache_dir: $MMCL_CACHE_DIR, else the user cache directory).
EMOJI_FILES := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf /usr/share/unicode/emoji/emoji-test.txt
emoji: env
	@for f in $(EMOJI_FILES); do test -f $$f || missing=1; done; \
	  test -z "$$missing" || { SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive \
	  $$SUDO apt-get install -y fonts-noto-color-emoji unicode-data; }
	$(BIN)/python -c "import mmcl; mmcl.load_emoji(image_pca=128)"

book: env emoji
	$(BIN)/jupyter-book build .
	@echo "The book is built: open file://$(CURDIR)/_build/html/index.html"

test: env chromium emoji
	$(BIN)/jupyter-book build . -W -n --keep-going
	$(MAKE) --no-print-directory portable
	MMCL_BROWSER_TEST=required $(BIN)/python -m pytest tests book $(NBVAL)

# The portability gate: unit tests and strict nbval under the second kernel set (no browser, PDF
# or live test: they check the built HTML and JupyterLab's UI, which do not depend on the kernels).
portable: env emoji
	$(PORTABLE) $(BIN)/python -m pytest -q tests book $(NBVAL) --ignore=tests/test_browser.py \
	  --ignore=tests/test_live_lab.py --ignore=tests/test_pdf.py

unit: env emoji
	$(BIN)/python -m pytest tests --ignore=tests/test_browser.py --ignore=tests/test_live_lab.py \
	  --ignore=tests/test_pdf.py

# The whole book as one PDF (_build/pdf/book.pdf): the built HTML pages printed in toc order by
# the tests' headless Chromium, offline, and merged (scripts/build_pdf.py; tests/test_pdf.py).
pdf: book chromium
	$(BIN)/python scripts/build_pdf.py _build/html _build/pdf/book.pdf

# The chapters live in JupyterLab, in the pinned environment: the kernel is .venv's Python (mmcl
# installed editable, so changes to mmcl show after a kernel restart) and the widgets are live.
# LAB_ARGS passes options on, e.g. LAB_ARGS="--no-browser --port=8890".
lab: env emoji
	$(BIN)/jupyter lab book/ $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# The browser test alone, on the book already built in _build/html.
browser: env chromium
	MMCL_BROWSER_TEST=required $(BIN)/python -m pytest tests/test_browser.py tests/test_pdf.py

# The live test alone: chapter 4 run in JupyterLab through Chromium (tests/test_live_lab.py).
live: env chromium emoji
	MMCL_BROWSER_TEST=required $(BIN)/python -m pytest tests/test_live_lab.py

nbval: env emoji
	$(BIN)/python -m pytest book $(NBVAL)

# Re-execute every chapter notebook in place with a real kernel (after changing a chapter or mmcl).
execute: env emoji
	$(BIN)/python scripts/execute_notebooks.py book/*.ipynb

# The benchmark of chapter 7 (tens of minutes on 2 cores; BENCH_ARGS=--quick for a few minutes).
bench: env
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# The table quoted by chapter 7, regenerated from the saved runs in benchmarks/results/.
BENCH_JSON = $(addprefix benchmarks/results/,cpu_linear.json cpu_race.json cpu_race16000.json \
             cpu_big.json \
             cpu_weights.json cpu_unpaired.json)
bench-table: env
	$(BIN)/python benchmarks/run.py --show $(BENCH_JSON) > benchmarks/results/cpu.txt

clean:
	rm -rf _build
