"""Both ways to install the binding, as a user would: python3 test_packaging.py STAGED_DIR WORK_DIR TINY_A_DIR

STAGED_DIR is build/python (ossrt.py, pyproject.toml and the libossrt_c.so of the build), WORK_DIR a scratch
folder (emptied first). Each install is checked by a fresh interpreter, started in WORK_DIR with neither
OSSRT_LIBRARY nor PYTHONPATH set, running the bundled model to its reference greedy tokens:
  1. one file: ossrt.py and libossrt_c.so copied into a folder;
  2. `pip install STAGED_DIR` into a new virtual environment, offline: module and library together;
  3. `pip install examples/python` there: the module alone, finding the library in the environment's prefix.
"""

import json
import os
import shutil
import subprocess
import sys
import unittest
from pathlib import Path

SOURCE = Path(__file__).resolve().parent
STAGED = WORK = TINY_A = Path()  # set from the command line

CHECK = """
import importlib.metadata, json, sys, ossrt
with ossrt.Model(sys.argv[1]) as model, model.session() as session:
    session.append([714, 1108, 958, 985, 112])
    tokens = session.generate(4)
try:
    distribution = importlib.metadata.version("ossrt")
except importlib.metadata.PackageNotFoundError:
    distribution = None
print(json.dumps({"module": ossrt.__file__, "library": ossrt.library_path(), "tokens": tokens,
                  "version": ossrt.version(), "distribution": distribution}))
"""
REFERENCE_TOKENS = [35, 515, 341, 570]  # tiny-a's greedy tokens from the official reference


def environment(**extra):
    env = {key: value for key, value in os.environ.items() if key not in ("OSSRT_LIBRARY", "PYTHONPATH")}
    env.update(extra)
    return env


def run(*command, **extra_env):
    return subprocess.run([str(part) for part in command], cwd=WORK, env=environment(**extra_env),
                          capture_output=True, text=True, timeout=300)


def check(python, **extra_env):
    """What a fresh interpreter reports after `import ossrt` and a greedy run."""
    done = run(python, "-c", CHECK, TINY_A, **extra_env)
    if done.returncode != 0:
        raise AssertionError(f"{python} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout)


class PackagingTest(unittest.TestCase):
    def test_one_file_and_the_library(self):
        folder = WORK / "one-file"
        folder.mkdir()
        shutil.copy(SOURCE / "ossrt.py", folder)
        shutil.copy(STAGED / "libossrt_c.so", folder)
        report = check(sys.executable, PYTHONPATH=folder)
        self.assertEqual(Path(report["module"]), folder / "ossrt.py")
        self.assertEqual(Path(report["library"]), folder / "libossrt_c.so")
        self.assertEqual(report["tokens"], REFERENCE_TOKENS)

    def test_pip_install(self):
        venv = WORK / "venv"
        done = run(sys.executable, "-m", "venv", venv)
        self.assertEqual(done.returncode, 0, done.stderr)
        python = venv / "bin" / "python"
        site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('platlib'))").stdout.strip())

        # The build tree: the module and its library, nothing else needed.
        done = run(python, "-m", "pip", "install", "--no-index", STAGED)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        report = check(python)
        self.assertEqual(Path(report["module"]), site / "ossrt" / "__init__.py")
        self.assertEqual(Path(report["library"]), site / "ossrt" / "libossrt_c.so")
        self.assertTrue((site / "ossrt" / "py.typed").is_file())
        self.assertEqual(report["tokens"], REFERENCE_TOKENS)
        self.assertEqual(report["distribution"], report["version"])  # pyproject.toml's version is the library's

        # The source folder: the module alone; the library where an install prefix holds it.
        done = run(python, "-m", "pip", "install", "--no-index", "--force-reinstall", SOURCE)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertFalse((site / "ossrt" / "libossrt_c.so").exists())
        missing = run(python, "-c", "import ossrt", OSSRT_LIBRARY=WORK / "nowhere" / "libossrt_c.so")
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("ImportError: ossrt: libossrt_c was not found; set OSSRT_LIBRARY", missing.stderr)
        self.assertIn(str(WORK / "nowhere" / "libossrt_c.so"), missing.stderr)
        shutil.copy(STAGED / "libossrt_c.so", venv / "lib")
        report = check(python)
        self.assertEqual(Path(report["library"]), venv / "lib" / "libossrt_c.so")
        self.assertEqual(report["tokens"], REFERENCE_TOKENS)
        report = check(python, OSSRT_LIBRARY=STAGED / "libossrt_c.so")
        self.assertEqual(Path(report["library"]), STAGED / "libossrt_c.so")


if __name__ == "__main__":
    STAGED, WORK, TINY_A = (Path(argument).resolve() for argument in sys.argv[1:4])
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    unittest.main(argv=[sys.argv[0]] + sys.argv[4:])
