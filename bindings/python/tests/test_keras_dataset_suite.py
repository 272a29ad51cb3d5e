"""Keras's own tests of image_dataset_from_directory, run against Graft.

The test file shipped inside the installed keras
(keras/src/utils/image_dataset_utils_test.py) runs twice in subprocesses: as
it is, and with Graft behind the function it tests (keras_suite/
graft_keras_adapter.py). Every test that passes with Keras must pass with
Graft, except those that check what Graft deliberately does otherwise
(DIFFERENCES, each with its reason; the README lists them).
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import keras

KERAS_TESTS = Path(keras.__file__).parent / "src" / "utils" / "image_dataset_utils_test.py"
ADAPTER_DIR = Path(__file__).parent / "keras_suite"
PACKAGE_DIR = Path(__file__).parent.parent

# Keras's tests that check what Graft deliberately does otherwise, and why
# (none: every test that passes with Keras passes with Graft). A listed test
# must still fail, so that the list is emptied as differences go.
DIFFERENCES: dict[str, str] = {}


def outcomes(tmp_path: Path, name: str, plugin: list[str]) -> dict[str, str]:
    """Each test of Keras's file: "passed", "failed" or "skipped"."""
    report = tmp_path / f"{name}.xml"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ADAPTER_DIR), str(PACKAGE_DIR)]),
               TF_CPP_MIN_LOG_LEVEL="2")
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin, f"--junitxml={report}",
                    "--rootdir", str(tmp_path), str(KERAS_TESTS)], env=env, cwd=tmp_path, capture_output=True)
    results = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        state = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                state = "failed"
            elif child.tag == "skipped":
                state = "skipped"
        results[case.get("name")] = state
    return results


def test_keras_own_tests_pass_with_graft(tmp_path: Path) -> None:
    with_keras = outcomes(tmp_path, "keras", [])
    with_graft = outcomes(tmp_path, "graft", ["-p", "graft_keras_adapter"])
    passing = sorted(name for name, state in with_keras.items() if state == "passed")
    assert len(passing) >= 17, with_keras  # Keras's own run is the reference: it must have run
    failing = [name for name in passing if with_graft.get(name) != "passed" and name not in DIFFERENCES]
    assert not failing, f"{len(failing)} of Keras's {len(passing)} passing tests fail with Graft: {failing}"
    # A listed test that now passes is no longer a difference.
    assert [name for name in DIFFERENCES if with_graft.get(name) == "passed"] == []
