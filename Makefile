# Two entry points: `make book` builds the HTML book, `make test` runs every test.
# Both create .venv from requirements.txt on first use and reuse it afterwards.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test lint clean venv
.DEFAULT_GOAL := help

help:
	@echo "make book   build the HTML book into _build/html/"
	@echo "make test   lint, run the library tests and execute every chapter (ADAMCOURSE_QUICK=1);"
	@echo "            the explorers' tests run again under ipywidgets 7"
	@echo "make install-cells   rewrite every chapter's install cell from _config.yml"

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $(STAMP)

venv: $(STAMP)

# The execution cache keys on a notebook's code cells only: when the library changes, drop it (and
# the Sphinx environment, which would otherwise reuse the old pages).
LIBRARY_STAMP := _build/.library-stamp
$(LIBRARY_STAMP): $(shell find adamcourse -name '*.py')
	rm -rf _build/.jupyter_cache _build/.doctrees
	mkdir -p _build && touch $@

book: $(STAMP) $(LIBRARY_STAMP)
	$(BIN)/jupyter-book build . --path-output . -W -n --keep-going

lint: $(STAMP)
	$(BIN)/ruff check .   # the package, tests, benchmarks, instructor/ and the chapters

# The explorers must also work with ipywidgets 7, what Colab has shipped: a small second environment, the main one
# with ipywidgets 7.7.1 put first on the path, runs their tests again.
# It lives inside .venv, which git, Sphinx and pytest ignore.
WIDGETS7 := $(VENV)/ipywidgets7
$(WIDGETS7)/.installed: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --upgrade --target $(WIDGETS7) ipywidgets==7.7.1 ipython_genutils==0.2.0
	touch $@

test: $(STAMP) lint $(WIDGETS7)/.installed
	ADAMCOURSE_QUICK=1 $(BIN)/python -m pytest
	PYTHONPATH=$(WIDGETS7) ADAMCOURSE_EXPECT_IPYWIDGETS=7 $(BIN)/python -m pytest -q tests/test_widgets.py \
	  -W "ignore:The \`ipykernel.comm.Comm\` class has been deprecated:DeprecationWarning"  # ipywidgets 7 on ipykernel 7

clean:
	rm -rf _build

# Every chapter's first cell installs adamcourse when it is missing (Colab): that snippet is generated from
# _config.yml's repository (url, branch). Rerun after changing either; tests/test_install_cell.py checks it.
.PHONY: install-cells
install-cells: $(STAMP)
	$(BIN)/python tools/install_cell.py
