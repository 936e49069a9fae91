"""Build fea_ros_msgs with the real rosidl generators of the ROS 2 Jazzy PyPI wheels, into this venv.

`make test` runs this after installing ``requirements-jazzy.txt``: plain CMake (no colcon on PyPI for these
wheels' layout), build tree under ``build/ros/fea_ros_msgs``, installed into ``sys.prefix`` so that the
wheels' own loader (``ros_wheels_bootstrapper`` puts ``<venv>/lib`` on LD_LIBRARY_PATH) and ``sys.path``
find the generated libraries and Python package without any environment setup.

The wheels' exported CMake targets name the include folders of the machine they were built on
(``/opt/python/cp311-cp311/...``); CMake refuses imported targets with missing include folders, so those
paths are pointed at this interpreter's own Python and numpy headers first.

Run: ``.venv/bin/python fea_ros/scripts/ros_wheels/build_msgs.py`` (from the repository root).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy

REPO = Path(__file__).resolve().parents[3]
MSGS = REPO / "fea_ros_msgs"
BUILD = REPO / "build" / "ros" / "fea_ros_msgs"
FOREIGN_PYTHON_INCLUDE = re.compile(r"/opt/python/cp3\d+-cp3\d+/include/python3\.\d+")
FOREIGN_NUMPY_INCLUDE = re.compile(r"/opt/python/cp3\d+-cp3\d+/lib/python3\.\d+/site-packages/numpy/_core/include")


def fix_exported_include_dirs(prefix: Path) -> int:
    """Point the wheels' rosidl_generator_py CMake exports at this machine's headers; returns files changed."""
    python_include = sysconfig.get_paths()["include"]
    numpy_include = numpy.get_include()
    changed = 0
    for path in sorted((prefix / "share").glob("*/cmake/export_*__rosidl_generator_pyExport.cmake")):
        text = path.read_text(encoding="utf-8")
        fixed = FOREIGN_NUMPY_INCLUDE.sub(numpy_include, text)
        fixed = FOREIGN_PYTHON_INCLUDE.sub(python_include, fixed)
        if fixed != text:
            path.write_text(fixed, encoding="utf-8")
            changed += 1
    return changed


def build(prefix: Path, jobs: int, quiet: bool) -> None:
    cmake = shutil.which("cmake", path=str(prefix / "bin")) or shutil.which("cmake")
    if cmake is None:
        sys.exit(f"cmake not found: pip install -r {Path(__file__).with_name('requirements-jazzy.txt')}")
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        sys.exit("no C compiler: sudo apt install build-essential (the rosidl type supports are compiled)")
    if not (prefix / "share" / "rosidl_default_generators").is_dir():
        sys.exit(f"no rosidl_default_generators under {prefix}: pip install -r "
                 f"{Path(__file__).with_name('requirements-jazzy.txt')} first")
    fix_exported_include_dirs(prefix)
    env = dict(os.environ)
    env["AMENT_PREFIX_PATH"] = str(prefix)  # rosidl finds the type supports through the ament index
    env["PATH"] = f"{prefix / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    shutil.rmtree(BUILD, ignore_errors=True)  # a cache from another venv or prefix would mislead CMake
    BUILD.mkdir(parents=True)
    output = subprocess.DEVNULL if quiet else None
    steps = [
        [cmake, "-S", str(MSGS), "-B", str(BUILD), f"-DCMAKE_PREFIX_PATH={prefix}",
         f"-DCMAKE_INSTALL_PREFIX={prefix}", f"-DPython3_EXECUTABLE={sys.executable}", "-DBUILD_TESTING=OFF"],
        [cmake, "--build", str(BUILD), "--parallel", str(jobs)],
        [cmake, "--install", str(BUILD)],
    ]
    for step in steps:
        result = subprocess.run(step, env=env, stdout=output, stderr=subprocess.PIPE, text=True)
        if result.returncode != 0:
            sys.exit(f"building fea_ros_msgs failed at `{' '.join(step)}`:\n{result.stderr[-4000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", type=Path, default=Path(sys.prefix), help="install prefix (the venv)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    build(args.prefix.resolve(), args.jobs, args.quiet)
    print(f"fea_ros_msgs built with rosidl into {args.prefix}")


if __name__ == "__main__":
    main()
