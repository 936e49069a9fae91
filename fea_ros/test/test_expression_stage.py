"""The improved expression stage: aligned crops from the mesh, mirror averaging, the fitted fusion files (with and
without the blendshapes)."""
from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest

from core_scenes import Placement, astronaut_bgr, render
from fea_ros.core.config import ExpressionConfig, InferenceConfig, PipelineConfig
from fea_ros.core.errors import ConfigError
from fea_ros.core.expression import NETS, ExpressionClassifier, faceapi_aligned_crop, fer_aligned_crop
from fea_ros.core.expression_fusion import fusion_file, load_fusion
from fea_ros.core.landmarks import LEFT_EYE_OUTER, RIGHT_EYE_OUTER
from fea_ros.core.pipeline import Pipeline
from fea_ros.core.types import EXPRESSION_LABELS, Frame
from fea_ros.inference.factory import create_engine
from fea_ros.inference.models import Manifest

HAPPY = EXPRESSION_LABELS.index("happy")
FUSION_FILE = fusion_file(())  # the default stage's fusion of the networks alone (no mirror image)
FUSION_FILE_BLENDSHAPES = fusion_file((), blendshapes=True)


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    config = PipelineConfig.fast()
    config.mie.enabled = False
    return Pipeline(config)


@pytest.fixture(scope="module")
def engines() -> dict:
    return {key: create_engine(net.model, InferenceConfig()) for key, net in NETS.items()}


def _landmarks(pipeline: Pipeline, image: np.ndarray):
    faces = pipeline.process_image(image).faces
    assert len(faces) == 1 and faces[0].landmarks is not None
    return faces[0]


@pytest.fixture(scope="module")
def full_pipeline() -> Pipeline:
    """The default configuration: FaceMesh v2 and the blendshapes, so the blendshape fusion is on."""
    config = PipelineConfig()
    config.mie.enabled = False
    return Pipeline(config)


def test_the_shipped_fusion_files_load_and_are_the_default(pipeline, full_pipeline):
    fusion = load_fusion(Manifest().directory / FUSION_FILE)
    with_shapes = load_fusion(Manifest().directory / FUSION_FILE_BLENDSHAPES)
    for f in (fusion, with_shapes):
        assert set(f.networks) == {"faceapi", "fer"} and f.temperature > 0 and f.aligned_crops
        assert f.flip_average == ()
    assert not fusion.blendshapes and with_shapes.blendshapes and with_shapes.weights.shape == (14 + 52, 7)
    defaults = ExpressionConfig()
    assert defaults.fusion == "fitted" and defaults.aligned_crops and defaults.flip_average == ""
    # the full configuration uses both; the fast one (no blendshapes) only the fusion of the networks
    assert full_pipeline.expression.fusion is not None and full_pipeline.expression.fusion_blendshapes is not None
    assert pipeline.expression.fusion is not None and pipeline.expression.fusion_blendshapes is None


def test_aligned_crops_level_the_eye_line_of_a_rolled_face(pipeline):
    upright = render([Placement(320, 240, 1.3)])
    rolled = render([Placement(320, 240, 1.3, angle_deg=25)])
    crops = {}
    for name, image in (("upright", upright), ("rolled", rolled)):
        face = _landmarks(pipeline, image)
        eyes = face.landmarks.points[[RIGHT_EYE_OUTER, LEFT_EYE_OUTER], :2]
        crops[name] = faceapi_aligned_crop(image, face.landmarks).astype(np.float32)
        assert fer_aligned_crop(image, face.landmarks).shape == (64, 64)
        if name == "rolled":  # the face really is rolled in the frame ...
            assert abs(math.degrees(math.atan2(*(eyes[1] - eyes[0])[::-1]))) > 15
    # ... but its aligned crop looks like the upright one: the same face, upright, about the same size
    difference = np.abs(crops["upright"] - crops["rolled"]).mean()
    assert difference < 20.0, difference
    assert crops["rolled"].shape == (112, 112, 3)


def test_mirror_averaging_is_the_mean_of_the_crop_and_its_mirror_image(pipeline, engines):
    image = render([Placement(320, 240, 1.2, smile=0.6)])
    face = _landmarks(pipeline, image)
    base = dict(weights={"faceapi": 0.6, "fer": 0.4}, fusion="mean", aligned_crops=True)
    plain = ExpressionClassifier(engines, ExpressionConfig(**base, flip_average=""))(
        image, [face.box], [face.landmarks])[0]
    flipped = ExpressionClassifier(engines, ExpressionConfig(**base, flip_average="faceapi"))(
        image, [face.box], [face.landmarks])[0]
    crop = faceapi_aligned_crop(image, face.landmarks)
    mirror = NETS["faceapi"].to_blob([np.ascontiguousarray(crop[:, ::-1])])
    engine = engines["faceapi"]
    mirrored = engine.run({next(iter(engine.input_shapes)): mirror})["probabilities"][0][
        NETS["faceapi"].canonical_order()]
    np.testing.assert_allclose(flipped.per_model["faceapi"], (plain.per_model["faceapi"] + mirrored) / 2, atol=1e-5)
    np.testing.assert_allclose(flipped.per_model["fer"], plain.per_model["fer"], atol=1e-6)  # fer not flipped


def _file_formula(fusion, per_model: dict, blendshapes: np.ndarray | None = None) -> np.ndarray:
    x = np.concatenate([np.log(np.clip(per_model[key], 1e-4, 1.0)) for key in fusion.networks]
                       + ([blendshapes] if blendshapes is not None else []))
    logits = (x @ fusion.weights + fusion.bias) / fusion.temperature
    expected = np.exp(logits - logits.max())
    return expected / expected.sum()


def test_fitted_fusion_is_the_file_formula_and_still_sees_the_smile(pipeline, engines):
    image = astronaut_bgr()
    face = _landmarks(pipeline, image)
    fusion = load_fusion(Manifest().directory / FUSION_FILE)
    stage = ExpressionClassifier(engines, ExpressionConfig(), fusion)
    result = stage(image, [face.box], [face.landmarks])[0]
    np.testing.assert_allclose(result.probabilities, _file_formula(fusion, result.per_model), atol=1e-9)
    assert int(np.argmax(result.probabilities)) == HAPPY
    # the pipeline's own result (fast configuration: no blendshapes) is the same numbers
    np.testing.assert_allclose(face.raw_scores, result.probabilities, atol=1e-9)


def test_with_blendshapes_the_fusion_reads_them_and_without_falls_back(full_pipeline, engines):
    image = astronaut_bgr()
    face = _landmarks(full_pipeline, image)
    assert face.action_units is not None
    shapes = face.action_units.blendshapes
    nets = load_fusion(Manifest().directory / FUSION_FILE)
    with_shapes = load_fusion(Manifest().directory / FUSION_FILE_BLENDSHAPES)
    stage = ExpressionClassifier(engines, ExpressionConfig(), nets, with_shapes)
    both = stage(image, [face.box, face.box], [face.landmarks, face.landmarks], [shapes, None])
    np.testing.assert_allclose(both[0].probabilities, _file_formula(with_shapes, both[0].per_model, shapes),
                               atol=1e-9)
    np.testing.assert_allclose(both[1].probabilities, _file_formula(nets, both[1].per_model), atol=1e-9)
    assert int(np.argmax(both[0].probabilities)) == HAPPY
    # the blendshapes carry evidence: a neutral face's coefficients move the same network outputs elsewhere
    assert np.abs(both[0].probabilities - both[1].probabilities).max() > 1e-3
    # the still-image path and the video path both publish the blendshape fusion
    np.testing.assert_allclose(face.raw_scores, both[0].probabilities, atol=1e-9)
    full_pipeline.reset()
    for index in range(10):
        result = full_pipeline.process(Frame(image=image, stamp_ns=index * 33_000_000, index=index))
        if result.faces:
            break
    video_face = result.faces[0]
    assert video_face.action_units is not None
    per_model = full_pipeline.expression.networks(image, [video_face.box], [video_face.landmarks])
    expected = full_pipeline.expression.fuse(per_model, [video_face.action_units.blendshapes])[0]
    np.testing.assert_allclose(video_face.raw_scores, expected.probabilities, atol=1e-6)
    full_pipeline.reset()


def test_a_fusion_needs_the_blendshapes_it_was_fitted_with(engines):
    nets = load_fusion(Manifest().directory / FUSION_FILE)
    with pytest.raises(ConfigError, match="fitted without them"):
        ExpressionClassifier(engines, ExpressionConfig(), nets, nets)
    with_shapes = load_fusion(Manifest().directory / FUSION_FILE_BLENDSHAPES)
    with pytest.raises(ValueError, match="blendshapes"):
        with_shapes({"faceapi": np.full((1, 7), 1 / 7), "fer": np.full((1, 7), 1 / 7)})
    with pytest.raises(ConfigError, match="fitted with them"):
        ExpressionClassifier(engines, ExpressionConfig(), with_shapes, with_shapes)
    uniform = {"faceapi": np.full((1, 7), 1 / 7), "fer": np.full((1, 7), 1 / 7)}
    with pytest.raises(ValueError, match=r"\(faces, 52\)"):
        with_shapes(uniform, np.zeros((1, 51)))
    # a face whose blendshapes are not finite gets the fusion without them, its neighbour keeps its own
    stage = ExpressionClassifier(engines, ExpressionConfig(), nets, with_shapes)
    two = {key: np.repeat(p, 2, axis=0) for key, p in uniform.items()}
    broken = np.full(52, np.nan)
    fused = stage.fuse(two, [broken, np.full(52, 0.1)])
    np.testing.assert_allclose(fused[0].probabilities, nets(uniform)[0], atol=1e-12)
    np.testing.assert_allclose(fused[1].probabilities, with_shapes(uniform, np.full((1, 52), 0.1))[0], atol=1e-12)
    assert stage.fuse({}) == []


def test_a_blendshape_fusion_file_with_other_blendshape_names_is_refused(tmp_path):
    data = json.loads((Manifest().directory / FUSION_FILE_BLENDSHAPES).read_text())
    names = data["blendshape_names"]
    names[1], names[2] = names[2], names[1]
    (tmp_path / "swapped.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="blendshape_names"):
        load_fusion(tmp_path / "swapped.json")


def test_a_face_without_landmarks_falls_back_to_the_box_crop(engines):
    image = astronaut_bgr()
    box = np.array([179.0, 82.0, 271.0, 175.0])
    config = ExpressionConfig(fusion="mean", flip_average="")
    aligned_off = ExpressionClassifier(engines, ExpressionConfig(fusion="mean", flip_average="", aligned_crops=False))
    np.testing.assert_allclose(ExpressionClassifier(engines, config)(image, [box], [None])[0].probabilities,
                               aligned_off(image, [box])[0].probabilities, atol=1e-9)


def test_bad_fusion_settings_and_files_are_clear_errors(tmp_path, engines, caplog):
    with pytest.raises(ConfigError, match="expression.fusion"):
        ExpressionClassifier(engines, ExpressionConfig(fusion="vote"))
    with pytest.raises(ConfigError, match="flip_average"):
        ExpressionClassifier(engines, ExpressionConfig(fusion="mean", flip_average="faceapi,hsemotion"))
    with pytest.raises(ConfigError, match="missing"):
        load_fusion(tmp_path / "none.json")
    shipped = json.loads((Manifest().directory / FUSION_FILE).read_text())
    shipped["bias"] = shipped["bias"][:5]
    (tmp_path / "bad.json").write_text(json.dumps(shipped))
    with pytest.raises(ConfigError, match="rebuild"):
        load_fusion(tmp_path / "bad.json")
    # a network switched off: the fitted fusion cannot apply, the stage says so and uses the weighted mean
    fusion = load_fusion(Manifest().directory / FUSION_FILE)
    only_fer = ExpressionClassifier(engines, ExpressionConfig(weights={"faceapi": 0.0, "fer": 1.0}), fusion)
    assert only_fer.fusion is None and "weighted mean" in caplog.text


def test_the_face_api_mirror_stage_gets_its_own_fitted_fusions(caplog):
    caplog.set_level(logging.INFO, logger="fea_ros.core.expression_fusion")
    config = PipelineConfig()
    config.mie.enabled = False
    config.expression.flip_average = "faceapi"
    stage = Pipeline(config).expression
    assert stage.flip == ("faceapi",) and stage.fusion is not None and stage.fusion.flip_average == ("faceapi",)
    assert stage.fusion_blendshapes is not None and stage.fusion_blendshapes.flip_average == ("faceapi",)
    assert "may be off" not in caplog.text
    assert ("expression fusion: expression_fusion_mirror_faceapi_blendshapes.json for faces with blendshapes, "
            "expression_fusion_mirror_faceapi.json for the others") in caplog.text
    # a mirror setting without a fitted file is a clear error that says what to do
    config.expression.flip_average = "fer"
    with pytest.raises(ConfigError, match="fit_expression_fusion.py --flip"):
        Pipeline(config)
