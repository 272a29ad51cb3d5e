# Graft — build, test, benchmark and demo.
#
#   make demo    build Graft and run the beans workflow on a generated dataset
#   make test    every test: Swift unit and Keras-parity tests, C ABI, Python
#   make bench   Graft vs Keras vs ONNX Runtime, side by side
#   make examples          build the C examples (examples/c) into .build/release, the Swift one (examples/swift)
#   make install PREFIX=…  graft.h, libgraft.so, graft.pc and the graft command (default /usr/local)
#   make uninstall PREFIX=…  removes what make install installed
#   make wheel   the Python package as a wheel in dist/, the library and the command inside
#   make test-asan         the Swift, C and Python suites under AddressSanitizer
#   make test-tsan         the threaded Swift tests under ThreadSanitizer
#   make fuzz              each fuzz target for FUZZ_SECONDS under libFuzzer
#
# Debian packages are installed when missing (make deps); Keras, ONNX Runtime
# and pytest live in a virtual environment (.venv) that `make test` and
# `make bench` create; the Keras reference data is generated into .fixtures/
# (model/: weights and outputs; data/: listings, splits, resizes; decode/:
# images and their decoded pixels; training/: Keras's training steps;
# hdf5/: h5py files whose data lies in other files or behind filters;
# examples/: a tiny generated image folder the examples run on), each part
# with its own STAMP.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

SWIFT ?= swift
PYTHON ?= python3
CC ?= cc
CXX ?= c++

BUILD := .build/release
LIB := $(BUILD)/libgraft.so
# The SONAME carries graft.h's GRAFT_ABI_VERSION, its one owner.
ABI_VERSION := $(shell sed -n 's/^\#define GRAFT_ABI_VERSION \([0-9]*\)$$/\1/p' include/graft.h)
SONAME := libgraft.so.$(ABI_VERSION)
VENV := .venv
VPY := $(VENV)/bin/python
FIXTURES := .fixtures

# Open MPI (libopenmpi-dev, openmpi-bin) serves distributed training only:
# libgraft.so builds and runs without it, libgraft_mpi.so is built beside it
# when mpicc is there.
DEBIAN_PACKAGES := libopenblas-dev libhdf5-dev libturbojpeg0-dev libjpeg-dev libpng-dev zlib1g-dev pkg-config \
	libopenmpi-dev openmpi-bin
PKG_CONFIG_MODULES := openblas hdf5 libturbojpeg libpng zlib ompi-c
# The references are pinned: the fixtures, the README's figures and its notes on
# where Graft deliberately differs name these releases. The stamp carries a
# hash of the list, so that changing a pin rebuilds the environment and, with
# it, the fixtures.
PYTHON_PACKAGES := tensorflow-cpu==2.21.0 keras==3.15.1 h5py==3.14.0 onnx==1.23.2 onnxruntime==1.32.0 \
	pytest numpy matplotlib
VENV_STAMP := $(VENV)/.installed-$(word 1,$(shell printf '%s' '$(PYTHON_PACKAGES)' | md5sum))
# The benchmark's other anchor, OpenVINO, beside them (only `make bench`).
BENCH_PACKAGES := openvino==2026.4.1
BENCH_STAMP := $(VENV)/.bench-$(word 1,$(shell printf '%s' '$(BENCH_PACKAGES)' | md5sum))

C_FLAGS := -std=c99 -Wall -Wextra -pedantic -Werror -Iinclude
LINK_GRAFT := -L$(BUILD) -lgraft -Wl,-rpath,'$$ORIGIN' -lm

C_EXAMPLES := features fruits360 beans
# The seed workflows made tiny for the tests: 3 classes of 8 training and 4
# test images at 32x32 (the smallest input ResNet50 takes), one epoch a phase.
EXAMPLES_DATA := $(FIXTURES)/examples
EXAMPLE_ARGS := --image-size 32 --batch-size 8 --epochs 1 --fine-tune-epochs 1

# make install: where to (DESTDIR is prepended to every path, for staging).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
VERSION := $(shell sed -n 's/^\#define GRAFT_VERSION "\(.*\)"$$/\1/p' include/graft.h)

.PHONY: all deps build test test-swift test-c test-python test-cli test-examples test-install test-wheel test-asan test-tsan fuzz \
	test-fuzz-corpus fixtures venv bench demo \
	examples install uninstall wheel clean

all: build

## deps: install the Debian packages Graft builds against, if any is missing.
deps:
	@if ! pkg-config --exists $(PKG_CONFIG_MODULES) 2>/dev/null; then \
		echo "installing Debian packages: $(DEBIAN_PACKAGES)"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null; \
	fi

## build: libgraft.so (self-contained: the Swift runtime linked in), the
## graft command (.build/release/graft) and graft-bench.
build: deps
	GRAFT_STATIC_STDLIB=1 $(SWIFT) build -c release --product graft
	$(SWIFT) build -c release --product graft-bench
	GRAFT_STATIC_STDLIB=1 $(SWIFT) build -c release --product graft-cli
	ln -sf libgraft.so $(BUILD)/$(SONAME)
	ln -sf graft-cli $(BUILD)/graft
	$(MAKE) --no-print-directory $(MPI_ENGINE)

## The MPI communication engine of distributed training, beside libgraft.so
## (which loads it at run time), where MPI's compiler is installed.
MPI_ENGINE := $(BUILD)/libgraft_mpi.so
%/libgraft_mpi.so: Sources/graft-mpi/graft_mpi.c Sources/CGraftComm/include/graft_comm.h
	@if command -v mpicc >/dev/null; then \
		echo "mpicc $@"; \
		mkdir -p $(@D); \
		mpicc -std=c11 -O2 -Wall -Wextra -Werror -shared -fPIC -ISources/CGraftComm/include $< -o $@; \
	else \
		echo "mpicc not found: $@ not built (distributed training needs Open MPI: make deps)"; \
	fi

## venv: Keras (tensorflow-cpu), ONNX Runtime and pytest, for tests and benchmarks.
venv: $(VENV_STAMP)
$(VENV_STAMP):
	$(PYTHON) -m venv $(VENV)
	rm -f $(VENV)/.installed*
	$(VPY) -m pip install -q --disable-pip-version-check $(PYTHON_PACKAGES)
	touch $@

## fixtures: reference data computed by Keras and TensorFlow themselves.
fixtures: $(FIXTURES)/model/STAMP $(FIXTURES)/data/STAMP $(FIXTURES)/decode/STAMP $(FIXTURES)/training/STAMP \
	$(FIXTURES)/hdf5/STAMP $(FIXTURES)/callbacks/STAMP $(EXAMPLES_DATA)/STAMP
$(FIXTURES)/model/STAMP: tools/make_fixtures.py $(VENV_STAMP)
	$(VPY) tools/make_fixtures.py $(FIXTURES)/model
$(FIXTURES)/data/STAMP: tools/make_data_fixtures.py $(VENV_STAMP)
	$(VPY) tools/make_data_fixtures.py $(FIXTURES)/data
$(FIXTURES)/decode/STAMP: tools/make_decode_fixtures.py $(VENV_STAMP)
	$(VPY) tools/make_decode_fixtures.py $(FIXTURES)/decode
$(FIXTURES)/hdf5/STAMP: tools/make_hdf5_fixtures.py tools/fixture_dir.py $(VENV_STAMP)
	$(VPY) tools/make_hdf5_fixtures.py $(FIXTURES)/hdf5
$(FIXTURES)/training/STAMP: tools/make_training_fixtures.py tools/make_fixtures.py $(VENV_STAMP)
	$(VPY) tools/make_training_fixtures.py $(FIXTURES)/training
$(FIXTURES)/callbacks/STAMP: tools/make_callback_fixtures.py tools/fixture_dir.py $(VENV_STAMP)
	$(VPY) tools/make_callback_fixtures.py $(FIXTURES)/callbacks
$(EXAMPLES_DATA)/STAMP: tools/make_demo_dataset.py tools/fixture_dir.py $(VENV_STAMP)
	$(VPY) tools/make_demo_dataset.py $(EXAMPLES_DATA) --classes 3 --train 8 --test 4 --size 32 --seed 0

test: deps fixtures test-swift build test-c test-python test-cli test-examples test-install test-wheel test-fuzz-corpus

# The kernel and Keras-parity tests again on each narrower kernel path
# (GRAFT_ISA; the README's "Instruction sets"): a path wider than the CPU
# runs is not taken, so there they repeat the widest one's.
NARROWER_ISAS := avx2 baseline
ISA_TESTS := GraftKernelsTests|GraftModelTests\.(.*Keras|frozenBaseSGD|wholeBaseSGD|lastBlockAdam)

# Test bundles link the Swift runtime dynamically (XCTest and Testing have no
# static libraries), so they are built without GRAFT_STATIC_STDLIB; `build`
# then relinks the self-contained library for the C and Python tests.
test-swift: deps fixtures
	$(SWIFT) build -c release --build-tests
	$(SWIFT) test -c release --skip-build
	for isa in $(NARROWER_ISAS); do \
		GRAFT_ISA=$$isa $(SWIFT) test -c release --skip-build --filter '$(ISA_TESTS)' || exit 1; \
	done

test-c: build fixtures
	$(CC) $(C_FLAGS) Tests/C/abi_test.c $(LINK_GRAFT) -o $(BUILD)/abi_test
	$(CXX) -std=c++11 -Wall -Wextra -pedantic -Werror -Iinclude Tests/C/header_cxx_test.cpp $(LINK_GRAFT) -o $(BUILD)/header_cxx_test
	$(BUILD)/abi_test $(FIXTURES)/model
	$(BUILD)/header_cxx_test

test-python: build fixtures
	$(VPY) -m pytest -q bindings/python/tests

# The graft command end to end on a tiny generated dataset; its version is
# graft.h's, also when `python -m graft` runs it from the checkout.
test-cli: build $(VENV_STAMP)
	Tests/CLI/cli_test.sh $(BUILD)/graft
	test "$$($(BUILD)/graft --version)" = "$(VERSION)"
	test "$$(PYTHONPATH=bindings/python GRAFT_LIBRARY=$(CURDIR)/$(LIB) $(VPY) -m graft --version)" = "$(VERSION)"

## examples: the C examples, built against include/ and the release library,
## and the Swift example package (examples/swift) on Graft's Swift API.
SWIFT_EXAMPLE_BUILD := .build/examples-swift
examples: build
	for name in $(C_EXAMPLES); do \
		$(CC) $(C_FLAGS) examples/c/$$name.c $(LINK_GRAFT) -o $(BUILD)/$$name; \
	done
	@# SwiftPM keeps the plan of a path dependency and misses files added to it since: plan afresh.
	rm -f $(SWIFT_EXAMPLE_BUILD)/release/description.json
	$(SWIFT) build -c release --package-path examples/swift --scratch-path $(SWIFT_EXAMPLE_BUILD)

# The seed-workflow examples (C, Python, and beans in Swift), tiny, with random
# weights and with a Keras weight file (the fixtures' random ResNet50); the
# beans examples also save their model (the Python and Swift ones load it
# back). The Python examples run the checkout's package on the library just
# built, whatever else is installed.
EXAMPLE_PYTHON := PYTHONPATH=bindings/python GRAFT_LIBRARY=$(CURDIR)/$(LIB) $(VPY)
test-examples: examples $(EXAMPLES_DATA)/STAMP $(FIXTURES)/model/STAMP
	$(BUILD)/beans $(EXAMPLES_DATA) random $(EXAMPLE_ARGS) --save $(BUILD)/beans-example-c.h5
	$(BUILD)/fruits360 $(EXAMPLES_DATA) $(FIXTURES)/model/resnet50_random.h5 $(EXAMPLE_ARGS)
	$(EXAMPLE_PYTHON) examples/python/beans.py $(EXAMPLES_DATA) $(FIXTURES)/model/resnet50_random.h5 \
		$(EXAMPLE_ARGS) --save $(BUILD)/beans-example-python.h5
	$(EXAMPLE_PYTHON) examples/python/fruits360.py $(EXAMPLES_DATA) random $(EXAMPLE_ARGS)
	$(SWIFT_EXAMPLE_BUILD)/release/beans $(EXAMPLES_DATA) $(FIXTURES)/model/resnet50_random.h5 $(EXAMPLE_ARGS)

## install: include/graft.h, libgraft.so.0 (the SONAME) with its libgraft.so
## link, lib/pkgconfig/graft.pc and the graft command under PREFIX (default
## /usr/local; BINDIR, LIBDIR, INCLUDEDIR and DESTDIR as usual). It installs
## what `make build` made, and builds nothing, so that `sudo make install`
## needs no Swift toolchain. uninstall removes exactly these files.
# graft.pc has no Requires.private: graft.h includes none of the libraries
# libgraft.so links or loads (HDF5, libturbojpeg, libpng; OpenBLAS at run
# time), and there is no static libgraft.a for `pkg-config --static` to serve;
# listing them would only make `pkg-config --cflags graft` fail where their
# -dev packages are not installed.
INSTALLED_FILES = $(INCLUDEDIR)/graft.h $(LIBDIR)/$(SONAME) $(LIBDIR)/libgraft.so $(LIBDIR)/pkgconfig/graft.pc \
	$(BINDIR)/graft $(LIBDIR)/libgraft_mpi.so
install:
	@for built in $(LIB) $(BUILD)/graft-cli; do \
		test -f $$built || { echo "$$built is missing: run make build first" >&2; exit 1; }; \
		if readelf -d $$built | grep -F libswiftCore >/dev/null; then \
			echo "$$built needs the Swift runtime (a test build): run make build first" >&2; exit 1; fi; \
	done
	install -d "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(LIBDIR)/pkgconfig" "$(DESTDIR)$(BINDIR)"
	install -m 644 include/graft.h "$(DESTDIR)$(INCLUDEDIR)/graft.h"
	install -m 755 $(LIB) "$(DESTDIR)$(LIBDIR)/$(SONAME)"
	ln -sfn $(SONAME) "$(DESTDIR)$(LIBDIR)/libgraft.so"
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
		'Name: graft' 'Description: ResNet transfer-learning engine (C ABI)' 'Version: $(VERSION)' \
		'Libs: -L$${libdir} -lgraft' 'Cflags: -I$${includedir}' > "$(DESTDIR)$(LIBDIR)/pkgconfig/graft.pc"
	install -m 755 $(BUILD)/graft-cli "$(DESTDIR)$(BINDIR)/graft"
	if [ -f $(MPI_ENGINE) ]; then install -m 755 $(MPI_ENGINE) "$(DESTDIR)$(LIBDIR)/libgraft_mpi.so"; fi
	@echo "installed Graft $(VERSION) under $(DESTDIR)$(PREFIX); for a system folder, run ldconfig"

uninstall:
	rm -f $(foreach file,$(INSTALLED_FILES),"$(DESTDIR)$(file)")

## wheel: the Python package with libgraft.so and the graft command inside,
## a platform wheel in dist/ (pip install dist/graft-*.whl anywhere with the
## run-time libraries the README lists). `pip install .` does the same build.
WHEEL := dist/graft-$(VERSION)-py3-none-linux_$(shell uname -m).whl
wheel: build
	rm -f $(WHEEL)
	$(PYTHON) -m pip wheel -q --disable-pip-version-check --no-deps -w dist .

# The wheel installed into a fresh virtual environment outside the checkout.
test-wheel: wheel
	Tests/Packaging/wheel_test.sh $(WHEEL) $(VERSION) $(PYTHON) $(LIB)

# make install into a temporary prefix; build a C example from the installed
# header and library with pkg-config alone and run it against them; run the
# installed command with no help from the environment; then make uninstall,
# which must leave no file behind.
test-install: build $(EXAMPLES_DATA)/STAMP
	prefix=$$(mktemp -d); work=$$(mktemp -d); trap 'rm -rf "$$prefix" "$$work"' EXIT; \
	$(MAKE) --no-print-directory install PREFIX="$$prefix"; \
	export PKG_CONFIG_PATH="$$prefix/lib/pkgconfig"; \
	$(CC) -std=c99 -Wall -Wextra -pedantic -Werror examples/c/beans.c $$(pkg-config --cflags --libs graft) \
		-o "$$work/beans"; \
	LD_LIBRARY_PATH="$$prefix/lib" ldd "$$work/beans" | grep -F "$$prefix/lib/$(SONAME)"; \
	LD_LIBRARY_PATH="$$prefix/lib" "$$work/beans" $(EXAMPLES_DATA) random $(EXAMPLE_ARGS) --save "$$work/beans.h5"; \
	env -i LD_LIBRARY_PATH= "$$prefix/bin/graft" --help | grep -F "USAGE: graft <subcommand>"; \
	test "$$(env -i LD_LIBRARY_PATH= "$$prefix/bin/graft" --version)" = "$(VERSION)"; \
	env -i LD_LIBRARY_PATH= "$$prefix/bin/graft" summary "$$work/beans.h5" | grep -F "Total params: "; \
	$(MAKE) --no-print-directory uninstall PREFIX="$$prefix"; \
	left=$$(find "$$prefix" ! -type d); \
	if [ -n "$$left" ]; then echo "make uninstall left: $$left" >&2; exit 1; fi

# Sanitizers and fuzzing, each in a build of its own beside the release one.
# The runtime settings: a huge allocation fails as it would without ASan
# (the readers must cope), Swift's crash handler stays out of the reports,
# and libhdf5's own leaks (Tests/Sanitizers/lsan.supp) are not Graft's.
SANITIZER_ENV := ASAN_OPTIONS=allocator_may_return_null=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/Sanitizers/lsan.supp SWIFT_BACKTRACE=enable=no
ASAN_BUILD := .build/asan
ASAN_FLAGS := -Xswiftc -sanitize=address -Xcc -fsanitize=address
# The ASan runtime a program that is not instrumented itself (the C test,
# Python) preloads to use the instrumented library.
ASAN_RUNTIME = $(firstword $(wildcard $(dir $(realpath $(shell command -v $(SWIFT))))../lib/clang/*/lib/linux/libclang_rt.asan-x86_64.so))
SWIFT_RUNTIME = $(dir $(realpath $(shell command -v $(SWIFT))))../lib/swift/linux
TSAN_BUILD := .build/tsan
# The tests whose threads meet: the pool from several callers, decoding and
# batches on worker threads, a fit (with the C ABI called from another thread
# meanwhile), in-memory and folder passes through the C ABI, augmentation
# and the decoded images' cache on the loading threads.
TSAN_TESTS := parallel|Parallel|decodesConcurrently|batchesInOrder|shuffledEpochs|skippedImagesAreNotDecoded|featuresDuringFit|frozenBaseLearns|memoryThroughCABI|corruptImages|pipelineAugments|decodedImagesAreKept
# Python test files whose time is Keras's own work (its dataset function on
# many trees, its models saving and loading): the library paths they reach
# run under AddressSanitizer in the Swift suites (DatasetTests,
# KerasParityTests, WeightFileTests, ModelFileTests) and the other files.
ASAN_PYTHON_SKIP := $(addprefix bindings/python/tests/,test_keras_dataset_suite.py test_data_keras.py \
	test_weights_file.py test_save_keras.py)
FUZZ_BUILD := .build/fuzz
FUZZ_TARGETS := image weights model
FUZZ_SECONDS ?= 60
FUZZ_SEED ?= 1

## test-asan: the Swift, C and Python suites against an AddressSanitizer build
## (LeakSanitizer too, for the Swift and C suites): memory errors fail it.
test-asan: deps fixtures $(VENV_STAMP)
	$(SWIFT) build -c release --scratch-path $(ASAN_BUILD) --build-tests $(ASAN_FLAGS)
	$(SANITIZER_ENV) $(SWIFT) test -c release --scratch-path $(ASAN_BUILD) --skip-build
	$(SWIFT) build -c release --scratch-path $(ASAN_BUILD) --product graft $(ASAN_FLAGS)
	ln -sf libgraft.so $(ASAN_BUILD)/release/$(SONAME)
	$(MAKE) --no-print-directory $(ASAN_BUILD)/release/libgraft_mpi.so
	$(CC) $(C_FLAGS) Tests/C/abi_test.c -L$(ASAN_BUILD)/release -lgraft -Wl,-rpath,$(CURDIR)/$(ASAN_BUILD)/release \
		-Wl,-rpath,$(SWIFT_RUNTIME) $(ASAN_RUNTIME) -lm -o $(ASAN_BUILD)/abi_test
	$(SANITIZER_ENV) LD_PRELOAD=$(ASAN_RUNTIME) $(ASAN_BUILD)/abi_test $(FIXTURES)/model
	# Python and the libraries it loads keep memory at exit by design: no leak check there.
	$(SANITIZER_ENV) ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=0 LD_PRELOAD=$(ASAN_RUNTIME) \
		LD_LIBRARY_PATH=$(SWIFT_RUNTIME) GRAFT_LIBRARY=$(CURDIR)/$(ASAN_BUILD)/release/libgraft.so \
		$(VPY) -m pytest -q bindings/python/tests $(foreach file,$(ASAN_PYTHON_SKIP),--ignore=$(file))

## test-tsan: the threaded Swift tests (TSAN_TESTS) under ThreadSanitizer, the
## Swift code and the thread pool's C code instrumented (GRAFT_TSAN=1, see
## Package.swift): a race fails the suite.
test-tsan: deps fixtures
	GRAFT_TSAN=1 $(SWIFT) build -c release --scratch-path $(TSAN_BUILD) --build-tests -Xswiftc -sanitize=thread
	GRAFT_TSAN=1 SWIFT_BACKTRACE=enable=no $(SWIFT) test -c release --scratch-path $(TSAN_BUILD) --skip-build \
		--filter '$(TSAN_TESTS)'

## fuzz: each fuzz target (Tests/Fuzz: the image decoders, the weight reader,
## the model loader) for FUZZ_SECONDS under libFuzzer and AddressSanitizer,
## from the seed corpus in Tests/Fuzz/corpus (FUZZ_SEED fixes the mutations'
## random start). A finding stops the run; its input is kept in
## .build/fuzz/findings/<target>/, and replays with the plain build:
## .build/release/graft-fuzz-<target> FILE.
fuzz: deps
	for target in $(FUZZ_TARGETS); do \
		$(SWIFT) build -c release --scratch-path $(FUZZ_BUILD) --product graft-fuzz-$$target \
			-Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address; \
	done
	for target in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$target $(FUZZ_BUILD)/findings/$$target; \
		$(SANITIZER_ENV) $(FUZZ_BUILD)/release/graft-fuzz-$$target -seed=$(FUZZ_SEED) \
			-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/findings/$$target/ $(FUZZ_BUILD)/corpus/$$target Tests/Fuzz/corpus/$$target; \
	done

# The seed corpus (and any finding added to it) through the plain build of
# each fuzz target: a regression test in every `make test`.
test-fuzz-corpus: deps
	for target in $(FUZZ_TARGETS); do \
		$(SWIFT) build -c release --product graft-fuzz-$$target; \
		$(BUILD)/graft-fuzz-$$target Tests/Fuzz/corpus/$$target; \
	done

## bench: Graft vs Keras, ONNX Runtime and OpenVINO on every speed goal, side by
## side; restricted to AVX2; the bfloat16 and int8 options; where the time goes
## (see bench/run.py).
bench: build fixtures $(BENCH_STAMP)
	$(VPY) bench/run.py
$(BENCH_STAMP): $(VENV_STAMP)
	rm -f $(VENV)/.bench-*
	$(VPY) -m pip install -q --disable-pip-version-check $(BENCH_PACKAGES)
	touch $@

## demo: `graft demo`: generates four classes of images into graft-demo/data,
## then runs the beans workflow (flips + Adam on the frozen base, then the last
## residual block fine-tuned), with the ImageNet weights when they are found
## locally (GRAFT_WEIGHTS_DIR, then ~/.keras/models), else random weights.
demo: build
	$(BUILD)/graft demo --output-dir graft-demo

clean:
	rm -rf .build $(FIXTURES) dist
