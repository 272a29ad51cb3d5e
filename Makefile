# Graft — build, test, benchmark and demo.
#
#   make demo    build Graft and run the base on a few generated images
#   make test    every test: Swift unit and Keras-parity tests, C ABI, Python
#   make bench   Graft vs Keras vs ONNX Runtime, side by side
#
# Debian packages are installed when missing (make deps); Keras, ONNX Runtime
# and pytest live in a virtual environment (.venv) that `make test` and
# `make bench` create; the Keras reference data is generated into .fixtures/
# (model/: weights and outputs; data/: listings, splits, resizes; decode/:
# images and their decoded pixels; training/: Keras's training steps), each
# part with its own STAMP.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

SWIFT ?= swift
PYTHON ?= python3
CC ?= cc
CXX ?= c++

BUILD := .build/release
LIB := $(BUILD)/libgraft.so
SONAME := libgraft.so.0
VENV := .venv
VPY := $(VENV)/bin/python
FIXTURES := .fixtures

DEBIAN_PACKAGES := libopenblas-dev libhdf5-dev libturbojpeg0-dev libjpeg-dev libpng-dev pkg-config
PKG_CONFIG_MODULES := openblas hdf5 libturbojpeg libpng
PYTHON_PACKAGES := tensorflow-cpu h5py onnx onnxruntime pytest numpy

C_FLAGS := -std=c99 -Wall -Wextra -pedantic -Werror -Iinclude
LINK_GRAFT := -L$(BUILD) -lgraft -Wl,-rpath,'$$ORIGIN' -lm

.PHONY: all deps build test test-swift test-c test-python fixtures venv bench demo clean

all: build

## deps: install the Debian packages Graft builds against, if any is missing.
deps:
	@if ! pkg-config --exists $(PKG_CONFIG_MODULES) 2>/dev/null; then \
		echo "installing Debian packages: $(DEBIAN_PACKAGES)"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null; \
	fi

## build: libgraft.so (self-contained: the Swift runtime linked in) and graft-bench.
build: deps
	GRAFT_STATIC_STDLIB=1 $(SWIFT) build -c release --product graft
	$(SWIFT) build -c release --product graft-bench
	ln -sf libgraft.so $(BUILD)/$(SONAME)

## venv: Keras (tensorflow-cpu), ONNX Runtime and pytest, for tests and benchmarks.
venv: $(VENV)/.installed
$(VENV)/.installed:
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --disable-pip-version-check $(PYTHON_PACKAGES)
	touch $@

## fixtures: reference data computed by Keras and TensorFlow themselves.
fixtures: $(FIXTURES)/model/STAMP $(FIXTURES)/data/STAMP $(FIXTURES)/decode/STAMP $(FIXTURES)/training/STAMP
$(FIXTURES)/model/STAMP: tools/make_fixtures.py $(VENV)/.installed
	$(VPY) tools/make_fixtures.py $(FIXTURES)/model
$(FIXTURES)/data/STAMP: tools/make_data_fixtures.py $(VENV)/.installed
	$(VPY) tools/make_data_fixtures.py $(FIXTURES)/data
$(FIXTURES)/decode/STAMP: tools/make_decode_fixtures.py $(VENV)/.installed
	$(VPY) tools/make_decode_fixtures.py $(FIXTURES)/decode
$(FIXTURES)/training/STAMP: tools/make_training_fixtures.py tools/make_fixtures.py $(VENV)/.installed
	$(VPY) tools/make_training_fixtures.py $(FIXTURES)/training

test: deps fixtures test-swift build test-c test-python

# Test bundles link the Swift runtime dynamically (XCTest and Testing have no
# static libraries), so they are built without GRAFT_STATIC_STDLIB; `build`
# then relinks the self-contained library for the C and Python tests.
test-swift: deps fixtures
	$(SWIFT) build -c release --build-tests
	$(SWIFT) test -c release --skip-build

test-c: build fixtures
	$(CC) $(C_FLAGS) Tests/C/abi_test.c $(LINK_GRAFT) -o $(BUILD)/abi_test
	$(CXX) -std=c++11 -Wall -Wextra -pedantic -Werror -Iinclude Tests/C/header_cxx_test.cpp $(LINK_GRAFT) -o $(BUILD)/header_cxx_test
	$(BUILD)/abi_test $(FIXTURES)/model
	$(BUILD)/header_cxx_test

test-python: build fixtures
	$(VPY) -m pytest -q bindings/python/tests

## bench: base inference, Graft vs Keras vs ONNX Runtime (see bench/run.py).
bench: build fixtures
	$(VPY) bench/run.py

## demo: the base on a few generated images, with the ImageNet weights when
## they are found locally (GRAFT_WEIGHTS_DIR, then ~/.keras/models).
demo: build
	$(CC) $(C_FLAGS) examples/c/features.c $(LINK_GRAFT) -o $(BUILD)/features
	$(BUILD)/features

clean:
	rm -rf .build $(FIXTURES)
