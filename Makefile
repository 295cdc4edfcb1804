# micromall: `make run` starts the local stack, `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test reset bench template access stages deploy clean web

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || { \
	  echo "micromall needs Python 3.11 (Lambda's runtime), and '$(PYTHON)' is missing or another version." >&2; \
	  echo "Install Python 3.11, or name it: make $(MAKECMDGOALS) PYTHON=/path/to/python3.11" >&2; exit 1; }
	@test -x $(PY) || { echo "creating $(VENV) with $(PYTHON) ..."; $(PYTHON) -m venv $(VENV); }
	@echo "installing requirements-dev.txt into $(VENV) (a few minutes the first time) ..."
	$(PY) -m pip install --disable-pip-version-check --progress-bar on -r requirements-dev.txt
	@touch $(STAMP)

run: $(STAMP) web
	$(PY) -m infra.local

# The front ends (web/*/: the storefront, the console) with Node and npm from the machine: `npm ci` when an app's
# lock changed, `npm run build` when any of its files, or the API's (the console type-checks against /openapi.json,
# which its build writes with the venv), is newer than its build. The local stack serves web/<app>/dist at /<app>/
# (infra/local/web.py).
WEB_APPS := $(patsubst web/%/package.json,web/%,$(wildcard web/*/package.json))
web: $(STAMP)
	@command -v npm >/dev/null || { echo "the front ends need Node 20 and npm (https://nodejs.org)" >&2; exit 1; }
	@for dir in $(WEB_APPS); do \
	  if [ ! -f $$dir/node_modules/.package-lock.json ] || [ $$dir/package-lock.json -nt $$dir/node_modules/.package-lock.json ]; then \
	    echo "installing $$dir (npm ci) ..."; (cd $$dir && npm ci --no-audit --no-fund --loglevel=error) || exit 1; fi; \
	  if [ ! -f $$dir/dist/index.html ] || [ -n "$$(find $$dir chalicelib -path $$dir/node_modules -prune -o -path $$dir/dist \
	      -prune -o -type f -newer $$dir/dist/index.html -print -quit)" ]; then \
	    echo "building $$dir ..."; (cd $$dir && npm run build --silent) || exit 1; fi; \
	done

# The browser tests drive Debian's chromium (Playwright for Python, never a browser download of its own), with a
# CJK font so the pages' Chinese shows in their screenshots.
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
BROWSER := $(CHROMIUM) $(CJK_FONT)
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
$(BROWSER):
	@echo "installing Debian's chromium and a CJK font for the browser tests ..."
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk

# The end-to-end suite (stacks in subprocesses, mostly waiting on HTTP) runs beside the in-process suites, which
# run on two pytest-xdist workers; the workers' access recordings are merged and judged by test_access.py after
# them (tests/deploy/access_plugin.py). A test module runs whole on one worker (--dist loadfile): some build
# state test by test (tests/deploy/test_create_owner.py). Every test runs; the e2e output is printed once it is
# done; any failing part fails the target.
RECORDING := build/access-recording.json
test: $(STAMP) web $(BROWSER)
	$(VENV)/bin/ruff check chalicelib app.py infra tests benchmarks
	@mkdir -p build
	@rm -f $(RECORDING)
	@$(PY) -m pytest -q -p no:cacheprovider tests/e2e tests/browser > build/e2e-tests.log 2>&1 & e2e=$$!; \
	MALL_ACCESS_RECORDING=$(RECORDING) $(PY) -m pytest -q -n 2 --dist loadfile -p tests.deploy.access_plugin \
	  tests --ignore=tests/e2e --ignore=tests/browser --ignore=tests/deploy/test_access.py; suites=$$?; \
	echo "--- tests/deploy/test_access.py (what the suites above touched, against every policy) ---"; \
	MALL_ACCESS_RECORDED=$(RECORDING) $(PY) -m pytest -q -p no:cacheprovider tests/deploy/test_access.py; access=$$?; \
	wait $$e2e; e2e_status=$$?; \
	echo "--- tests/e2e and tests/browser (run alongside) ---"; cat build/e2e-tests.log; \
	test $$suites -eq 0 && test $$access -eq 0 && test $$e2e_status -eq 0
	$(PY) -m infra template --output infra/out/template.json
	$(VENV)/bin/cfn-lint infra/out/template.json

reset:
	rm -rf .local/data .local/keys .local/events

# make bench SECTION=dashboard: that section alone, put in place in benchmarks/report.md
bench: $(STAMP) web $(BROWSER)
	$(PY) -m benchmarks.run $(if $(SECTION),--only $(SECTION))

template: $(STAMP)
	$(PY) -m infra template --output infra/out/template.json
	@echo "wrote infra/out/template.json"

# What each function touches (runs the suites under the recorder), then stages and policies: docs/DEPLOY.md
access: $(STAMP)
	$(PY) -m infra access

stages: $(STAMP)
	$(PY) -m infra stages

# make deploy STAGE=dev: the environment's stack, the trimmed dependency layer (infra/layer.py), then the stage's
# functions (AWS credentials needed)
STAGE ?= dev
deploy: $(STAMP)
	$(PY) -m infra deploy --stage $(STAGE)
	$(PY) -m infra layer
	$(VENV)/bin/chalice deploy --stage $(STAGE)

clean:
	rm -rf $(VENV) .local build infra/out .pytest_cache
