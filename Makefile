# Set-up and entry points. `make demo` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install bench clean readme-images format

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev,plot,serve]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/pbr demo

test: $(STAMP)
	$(BIN)/ruff check pbr_cli tests benchmarks examples
	$(BIN)/ruff format --check pbr_cli tests benchmarks examples
	$(BIN)/python -m pytest -q -n auto --dist worksteal

format: $(STAMP)
	$(BIN)/ruff format pbr_cli tests benchmarks examples
	$(BIN)/ruff check --fix pbr_cli tests benchmarks examples

readme-images: $(STAMP)
	$(BIN)/pbr demo --report pbr-demo
	cp "$$(ls pbr-demo/sheets/*.png | head -n 1)" examples/demo_sheet.png
	cp pbr-demo/plots/pbr/fig5_intensity.png examples/demo_fig5.png
	cp pbr-demo/plots/learning_curves.png examples/demo_curves.png
	$(BIN)/python examples/make_contact_sheet.py

bench: $(STAMP)
	$(BIN)/python benchmarks/sentiment_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
