"""fea_ros: an ament_python package that is also pip-installable without ROS."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "fea_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/models", glob("models/*.onnx") + glob("models/*.json")),
        (f"share/{PACKAGE}/samples", glob("samples/*.mp4")),
        (f"share/{PACKAGE}/samples/bags/faces3_mcap", glob("samples/bags/faces3_mcap/*")),
        (f"share/{PACKAGE}/samples/bags/faces3_sqlite3", glob("samples/bags/faces3_sqlite3/*")),
        (f"share/{PACKAGE}/msg", glob("../fea_ros_msgs/msg/*.msg")),
    ],
    python_requires=">=3.10",
    install_requires=[
        "numpy>=1.21",
        "opencv-python-headless>=4.5,<5",
        "onnxruntime>=1.16",
        "rosbags>=0.11.9,<0.12",
        "PyYAML>=5.4",
        "scipy>=1.8",
        "matplotlib>=3.5",
        "tqdm>=4.60",
        "setuptools",
    ],
    extras_require={
        "dev": [
            "pytest>=7",
            "mcap==1.6.0",
            "mcap-ros2-support==0.6.0",
            "scikit-image==0.26.0",
            "onnx==1.23.2",
            "h5py>=3.8",
            "tflite2onnx==0.4.1",
            "tflite==2.18.0",
            "ai-edge-litert==2.3.0",
            "openpyxl>=3.1",
            "torch==2.13.0",
            # `make test` type-checks the package (tensorrt-stubs is installed by the Makefile, see there)
            "mypy==2.4.1",
            "types-PyYAML==6.0.12.20261122",
            "types-tqdm==4.70.0.20261106",
            "types-openpyxl==3.1.5.20261017",
            "ray==2.60.0",
        ],
        # `fea-ros replay-many` on Ray (docs/fleet.md); wheels for CPython 3.10-3.13, x86_64 and aarch64
        "fleet": ["ray==2.60.0"],
    },
    zip_safe=True,
    maintainer="fea_ros developers",
    maintainer_email="fea-ros@users.noreply.github.com",
    description="Facial expression perception for ROS 2: faces, macro-expressions, action units, micro-expression spotting.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "fea-ros = fea_ros.cli:main",
            "pipeline_node = fea_ros.ros.pipeline_node:main",
        ],
    },
)
