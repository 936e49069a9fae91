"""The parameter table, config/pipeline.yaml and the conversion to PipelineConfig."""
import dataclasses
from pathlib import Path

import pytest
import yaml

from fea_ros.core.config import PipelineConfig
from fea_ros.core.errors import ConfigError
from fea_ros.ros import params
from fea_ros.ros.diagnostics import DiagnosticThresholds
from fea_ros.ros.errors import ParameterError

CONFIG_FILE = Path(__file__).resolve().parents[1] / "config" / "pipeline.yaml"
REGENERATE = ("regenerate it: PYTHONPATH=fea_ros python -c \"from fea_ros.ros import params; "
              "open('fea_ros/config/pipeline.yaml', 'w').write(params.parameters_yaml())\"")


def test_every_pipeline_setting_is_a_documented_parameter():
    assert params.undocumented_settings() == [], "add descriptions/ranges to params._PIPELINE_DOCS"
    names = [spec.name for spec in params.parameter_specs()]
    assert len(names) == len(set(names))
    assert set(params.config_leaves(PipelineConfig())) <= set(names)


def test_config_file_is_the_parameter_table():
    assert CONFIG_FILE.read_text() == params.parameters_yaml(), f"config/pipeline.yaml is stale; {REGENERATE}"


def test_config_file_parses_to_every_default_with_its_ros_type():
    values = params.parameters_from_yaml(yaml.safe_load(CONFIG_FILE.read_text()))
    specs = params.parameter_specs()
    assert set(values) == {spec.name for spec in specs}
    for spec in specs:
        # ROS parameter types are fixed at declaration: 20 instead of 20.0 would be rejected by the node
        assert type(values[spec.name]) is type(spec.default), spec.name
        assert values[spec.name] == spec.default, spec.name
    for line in CONFIG_FILE.read_text().splitlines()[6:]:
        assert line.rstrip().endswith(":") or "  # " in line, f"parameter without a comment: {line!r}"


def test_defaults_lie_in_their_ranges_and_choices():
    for spec in params.parameter_specs():
        if spec.choices:
            assert spec.default in spec.choices, spec.name
        if spec.minimum is not None:
            assert spec.minimum <= spec.default <= spec.maximum, spec.name
            assert type(spec.default) in (int, float), spec.name


def test_defaults_give_the_default_pipeline_config():
    defaults = {spec.name: spec.default for spec in params.parameter_specs()}
    assert params.pipeline_config(defaults) == PipelineConfig()
    settings = params.node_settings(defaults)
    assert settings == params.NodeSettings(compressed=False, qos="auto", debug_image=False,
                                           publish_landmarks=True, hri_enabled=False, hri_id_prefix="",
                                           thresholds=DiagnosticThresholds())


def test_parameter_values_reach_the_config():
    values = {"mie.enabled": False, "expression.weights.fer": 0.0, "expression.weights.faceapi": 1.0,
              "inference.backend": "auto", "detection.max_faces": 2, "input_transport": "compressed",
              "qos": "reliable", "hri.enabled": True, "diagnostics.latency_warn_ms": 50.0}
    config = params.pipeline_config(values)
    assert config.mie.enabled is False and config.inference.backend == "auto" and config.detection.max_faces == 2
    assert config.expression.weights == {"faceapi": 1.0, "fer": 0.0}
    assert dataclasses.replace(config.tracking) == PipelineConfig().tracking
    settings = params.node_settings(values)
    assert settings.compressed and settings.qos == "reliable" and settings.hri_enabled
    assert settings.thresholds.latency_warn_ms == 50.0


def test_bad_values_are_named_with_what_is_allowed():
    with pytest.raises(ParameterError, match=r"'detection.detector' is 'huge'; use one of: full, short"):
        params.pipeline_config({"detection.detector": "huge"})
    with pytest.raises(ParameterError, match=r"'detection.threshold' is 1.5; allowed 0 .. 1"):
        params.pipeline_config({"detection.threshold": 1.5})
    with pytest.raises(ParameterError, match="input_transport"):
        params.node_settings({"input_transport": "theora"})
    with pytest.raises(ConfigError, match="unknown setting 'detection.colour'"):
        params.pipeline_config({"detection.colour": "red"})


def test_params_file_sections_are_found_under_any_node_key():
    for key in ("pipeline_node", "/pipeline_node", "/**"):
        assert params.parameters_from_yaml({key: {"ros__parameters": {"mie": {"enabled": False}}}}) == {
            "mie.enabled": False}
    with pytest.raises(ParameterError, match="pipeline_node"):
        params.parameters_from_yaml({"other_node": {"ros__parameters": {}}})


def test_descriptor_constraints_text():
    spec = next(s for s in params.parameter_specs() if s.name == "inference.backend")
    assert spec.constraints == "one of: onnxruntime, tensorrt, auto"
    spec = next(s for s in params.parameter_specs() if s.name == "tracking.confirm_frames")
    assert spec.constraints == "1 .. 100" and isinstance(spec.default, int)


def test_misspelt_parameters_are_named_with_the_closest_valid_one():
    unknown = params.unknown_parameters(["mie.enabeld", "inference.backend", "use_sim_time", "zzz_unrelated",
                                         "qos_overrides./image.subscription.depth"])
    assert [(u.name, u.suggestion) for u in unknown] == [("mie.enabeld", "mie.enabled"), ("zzz_unrelated", None)]
    assert "did you mean 'mie.enabled'?" in unknown[0].message("params.yaml")


def test_choices_and_ranges_are_checked_one_parameter_at_a_time():
    specs = {spec.name: spec for spec in params.parameter_specs()}
    assert "use one of" in params.problem(specs["inference.backend"], "foo")
    assert "allowed 1 .. 1000" in params.problem(specs["detection.redetect_interval"], 0)
    assert "allowed 0 .. 1" in params.problem(specs["tracking.min_presence"], -3.0)
    assert params.problem(specs["inference.backend"], "auto") is None
