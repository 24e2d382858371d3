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
	@echo "make notebooks   the chapters as notebooks for Colab and Jupyter, in _build/notebooks/ (make book too)"
	@echo "make jupyter   JupyterLab on the chapters (installs it into .venv on first use)"
	@echo "make test   lint, run the library tests and execute every chapter (ADAMCOURSE_QUICK=1);"
	@echo "            the explorers' tests run again under ipywidgets 7"
	@echo "make install-cells   rewrite every chapter's install cell from _config.yml"
	@echo "make clean-notebooks strip outputs, widget state and Colab metadata from every chapter, in place"

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
	ADAMCOURSE_PROGRESS=0 $(BIN)/jupyter-book build . --path-output . -W -n --keep-going

# Every chapter as a notebook that Jupyter and Colab render (plain Markdown, numbers from the build), and its
# student version: the book's build writes them (tools/reader_notebooks.py) into _build/notebooks/.
# publish-notebooks commits that folder to the branch Colab opens them from (git push it afterwards).
.PHONY: notebooks publish-notebooks jupyter
notebooks: book
	@echo "reader and student notebooks: _build/notebooks/"
publish-notebooks: notebooks
	$(BIN)/python tools/publish_notebooks.py

# JupyterLab on the chapters, with jupyterlab-myst so that their MyST (admonitions, math labels) renders.
# Not in requirements.txt (the build and the tests do not need it): installed on first use, within its pins.
JUPYTER_STAMP := $(VENV)/.jupyterlab
$(JUPYTER_STAMP): $(STAMP)
	grep -v '^-e' requirements.txt > $(VENV)/constraints.txt
	$(BIN)/python -m pip install --quiet -c $(VENV)/constraints.txt jupyterlab==4.6.6 jupyterlab-myst==2.7.0
	touch $@
jupyter: $(JUPYTER_STAMP)
	$(BIN)/jupyter lab book/

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
	ADAMCOURSE_QUICK=1 ADAMCOURSE_PROGRESS=0 ADAMCOURSE_BUILT_BOOK= $(BIN)/python -m pytest
	PYTHONPATH=$(WIDGETS7) ADAMCOURSE_EXPECT_IPYWIDGETS=7 $(BIN)/python -m pytest -q tests/test_widgets.py \
	  -W "ignore:The \`ipykernel.comm.Comm\` class has been deprecated:DeprecationWarning"  # ipywidgets 7 on ipykernel 7

clean:
	rm -rf _build

# Every chapter's first cell installs adamcourse when it is missing (Colab): that snippet is generated from
# _config.yml's repository (url, branch). Rerun after changing either; tests/test_install_cell.py checks it.
.PHONY: install-cells
install-cells: $(STAMP)
	$(BIN)/python tools/install_cell.py

# Colab and Jupyter save outputs, widget state and their own metadata into a notebook, which break rendering
# elsewhere; this strips them from book/**/*.ipynb in place (a clean notebook is not rewritten) and sets the
# python3 kernel. tests/test_book.py fails on a chapter that needs it. Standard library only: no venv needed.
.PHONY: clean-notebooks
clean-notebooks:
	$(PYTHON) tools/clean_notebooks.py
