# jijiao — two commands on a fresh machine:
#   make demo   install everything into .venv and start the platform with a demo
#   make test   install everything into .venv and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install system-deps bench clean i18n i18n-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The browser tests drive Debian's Chromium (Playwright cannot download a browser here), the
# screens and PDFs need CJK fonts, WeasyPrint needs Pango and HarfBuzz, the PDF tests pdftoppm:
# installed from Debian's packages when missing.
DEBIAN_PACKAGES := chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils
SYSTEM_STAMP := $(VENV)/.system-deps
$(SYSTEM_STAMP): | $(STAMP)
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "安装 Debian 软件包：$$missing"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "缺少 Debian 软件包：$$missing；请以 root 运行 apt-get install $$missing"; exit 1; fi; \
	fi
	touch $(SYSTEM_STAMP)

system-deps: $(SYSTEM_STAMP)

# The demo lives in the default database (instance/jijiao.sqlite3), so every jijiao command
# without --database sees it; it is built once and reused by later runs (jijiao demo --reset rebuilds).
DEMO_DB := sqlite:///$(CURDIR)/instance/jijiao.sqlite3

demo: $(STAMP) $(SYSTEM_STAMP)
	$(BIN)/jijiao plugins check
	$(BIN)/jijiao demo --database $(DEMO_DB) --if-missing
	$(BIN)/jijiao serve --database $(DEMO_DB)

test: $(STAMP) $(SYSTEM_STAMP)
	$(BIN)/python -m pytest

# Chinese is the source language; the English catalogue is admin/translations/en.
i18n: $(STAMP)
	$(BIN)/python -m admin.i18n_tools update
i18n-check: $(STAMP)
	$(BIN)/python -m admin.i18n_tools check

bench: $(STAMP)
	$(BIN)/python -m bench.engine

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
