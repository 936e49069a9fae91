"""Expression: both networks on the real photo, one label order, ensemble weights, batching."""
from __future__ import annotations

import numpy as np
import pytest

from core_scenes import ASTRONAUT_SHORT_RANGE_BOX, Placement, astronaut_bgr, expected_box, render
from fea_ros.core.config import ExpressionConfig, InferenceConfig, PipelineConfig
from fea_ros.core.errors import ConfigError
from fea_ros.core.expression import NETS, ExpressionClassifier, faceapi_crop, fer_crop
from fea_ros.core.pipeline import Pipeline
from fea_ros.core.types import EXPRESSION_LABELS
from fea_ros.inference.factory import create_engine

HAPPY = EXPRESSION_LABELS.index("happy")


@pytest.fixture(scope="module")
def engines() -> dict:
    return {key: create_engine(net.model, InferenceConfig()) for key, net in NETS.items()}


def classifier(engines: dict, **weights: float) -> ExpressionClassifier:
    """Today's weighted mean of box crops (the fitted fusion and the aligned crops are tested below)."""
    return ExpressionClassifier(engines, ExpressionConfig(weights=weights, fusion="mean", aligned_crops=False,
                                                          flip_average=""))


def test_label_orders_map_onto_the_canonical_one():
    assert NETS["faceapi"].canonical_order().tolist() == list(range(7))
    # fer (FER2013): angry, disgust, fear, happy, sad, surprise, neutral
    fer_order = NETS["fer"].canonical_order().tolist()
    assert [NETS["fer"].labels[i] for i in fer_order] == list(EXPRESSION_LABELS)
    assert fer_order[HAPPY] == 3


def test_both_networks_see_the_astronaut_smile(engines):
    result = classifier(engines, faceapi=0.6, fer=0.4)(astronaut_bgr(), [ASTRONAUT_SHORT_RANGE_BOX])[0]
    assert set(result.per_model) == {"faceapi", "fer"}
    for name, probabilities in result.per_model.items():
        assert probabilities.shape == (7,) and probabilities.sum() == pytest.approx(1.0, abs=1e-4)
        assert int(np.argmax(probabilities)) == HAPPY, name
    assert result.probabilities.sum() == pytest.approx(1.0)
    assert EXPRESSION_LABELS[int(np.argmax(result.probabilities))] == "happy"


def test_a_frown_made_from_the_photo_is_not_happy(engines):
    placement = Placement(320, 240, 1.2, smile=0.0)
    result = classifier(engines, faceapi=0.6, fer=0.4)(render([placement]), [expected_box(placement)])[0]
    assert result.probabilities[HAPPY] < 0.5


def test_ensemble_is_the_weighted_mean_and_weight_zero_leaves_a_net_out(engines):
    placement = Placement(320, 240, 1.2, smile=0.5)
    image, box = render([placement]), expected_box(placement)
    both = classifier(engines, faceapi=0.75, fer=0.25)(image, [box])[0]
    expected = 0.75 * both.per_model["faceapi"] + 0.25 * both.per_model["fer"]
    np.testing.assert_allclose(both.probabilities, expected / expected.sum(), atol=1e-6)
    only_fer = classifier(engines, faceapi=0.0, fer=1.0)
    assert set(only_fer.engines) == {"fer"}
    alone = only_fer(image, [box])[0]
    assert set(alone.per_model) == {"fer"}
    np.testing.assert_allclose(alone.probabilities, both.per_model["fer"], atol=1e-6)


def test_a_disabled_network_is_not_loaded_by_the_pipeline():
    config = PipelineConfig.fast()
    config.expression.weights = {"faceapi": 1.0, "fer": 0.0}
    assert set(Pipeline(config).expression.engines) == {"faceapi"}


def test_all_faces_of_a_frame_go_in_one_batch_with_the_same_result(engines):
    placements = [Placement(130, 200, 0.9), Placement(320, 300, 0.9, smile=0.3, mirror=True),
                  Placement(510, 200, 0.9, angle_deg=10)]
    image = render(placements)
    boxes = [expected_box(p) for p in placements]
    fused = classifier(engines, faceapi=0.6, fer=0.4)
    batched = fused(image, boxes)
    for box, together in zip(boxes, batched):
        single = fused(image, [box])[0]
        np.testing.assert_allclose(together.probabilities, single.probabilities, atol=1e-5)
    assert fused(image, []) == []


def test_crops_follow_each_networks_preprocessing():
    image = astronaut_bgr()
    box = np.array([-20.0, 100.0, 60.0, 160.0])  # partly outside the image, wider than tall
    crop = faceapi_crop(image, box)
    assert crop.shape == (112, 112, 3)
    # clipped to x 0..60 (60 px) and y 100..160 (60 px) -> square, no padding needed
    assert crop[:, :5].any()
    tall = faceapi_crop(image, np.array([100.0, 100.0, 140.0, 180.0]))
    assert not tall[:, :20].any() and not tall[:, -20:].any()  # zero padding left and right, centred
    outside = faceapi_crop(image, np.array([600.0, 100.0, 680.0, 180.0]))  # beyond the right edge
    assert outside.shape == (112, 112, 3)
    gray = fer_crop(image, box)
    assert gray.shape == (64, 64) and gray.dtype == np.uint8
    assert not gray[:, :8].any()  # outside the image (and its 10 px margin) is black, as fer pads


def test_unknown_or_negative_weights_are_config_errors(engines):
    with pytest.raises(ConfigError, match="unknown network"):
        classifier(engines, faceapi=1.0, hsemotion=1.0)
    with pytest.raises(ConfigError, match=">= 0"):
        classifier(engines, faceapi=1.0, fer=-0.5)
