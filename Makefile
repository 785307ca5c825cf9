# Two commands: `make demo` runs the CTI layer against the built-in PBX simulator,
# `make test` runs the whole suite. Both set up what they need on a fresh Debian machine.
VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
# System packages the suite needs; installed with apt only when missing (systemd: systemd-analyze verify).
TEST_APT  := postgresql redis-server chromium fonts-wqy-zenhei ffmpeg espeak-ng systemd
DEMO_APT  := ffmpeg
# Two pytest workers: a real-switch test mostly waits on the switch's own time (prompts, ring and talk).
# --dist loadfile: a file's tests run on one worker, in order (a real-switch module shares one Asterisk).
# Not loadgroup: with pytest 9.2 it silently stops grouping (pytest-xdist issue #1386).
TEST_WORKERS ?= 2

.PHONY: demo test lint bench wheel clean

$(STAMP): pyproject.toml
	@python3 -m venv $(VENV) 2>/dev/null || { scripts/apt-ensure python3-venv && python3 -m venv $(VENV); }
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@# -W: setuptools' "Editable installation" notice (a boxed warning about same-named folders in the
	@# working directory, which is the point of an editable install here) would open the demo's first screen
	$(PY) -W "ignore:Editable installation" -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

demo: $(STAMP)
	@scripts/apt-ensure $(DEMO_APT)
	$(VENV)/bin/cti demo $(DEMO_ARGS)

test: $(STAMP)
	@scripts/apt-ensure $(TEST_APT)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/ami_ingest.py
	$(PY) bench/agi_sessions.py

# The wheel to install on a host (README "In production"): dist/cti12345-<version>-py3-none-any.whl
wheel: $(STAMP)
	$(PY) -m pip wheel -q --no-deps -w dist .

clean:
	rm -rf $(VENV) var .pytest_cache build dist
