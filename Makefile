# geophoto: `make demo` and `make test` work as the first command on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.geophoto-installed
DEMO_OUT := demo-output
SAMPLES := workflows/photos

.PHONY: demo test canvas doc bench clean

$(STAMP): requirements.txt requirements-test.txt doc/requirements.txt constraints.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q \
		-r requirements.txt -r requirements-test.txt -c constraints.txt
	# tensorflow-cpu from requirements.txt provides the `tensorflow` setup.py names
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p $(DEMO_OUT)
	$(VENV)/bin/geophoto photos2kml $(SAMPLES) -o $(DEMO_OUT)/venice.kmz \
		--table $(DEMO_OUT)/venice-photos.csv --time-line
	@echo "Outputs: $(DEMO_OUT)/venice.kmz (open in Google Earth) and" \
		"$(DEMO_OUT)/venice-photos.csv (positions, times, places, labels)"

test: $(STAMP)
	QT_QPA_PLATFORM=$${QT_QPA_PLATFORM:-offscreen} $(PY) -m pytest tests -q

canvas: doc  # with the help pages F1 opens
	$(PY) -m Orange.canvas

bench: $(STAMP)
	$(PY) bench/bench_exif.py
	$(PY) bench/bench_embed.py --models
	$(PY) bench/bench_geolocate.py
	$(PY) bench/bench_layers.py
	$(PY) bench/bench_geocode.py
	$(PY) bench/bench_export.py

doc: $(STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html doc doc/_build/html

clean:
	rm -rf $(DEMO_OUT) doc/_build build *.egg-info
