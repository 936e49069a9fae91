"""sensor_msgs/Image and CompressedImage conversion on a real photo (skimage astronaut)."""
from __future__ import annotations

import array
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from fea_ros.core.errors import InputError
from fea_ros.core.image_msg import (
    ImageMessageError,
    bgr_to_compressed_fields,
    bgr_to_image_fields,
    compressed_to_bgr,
    image_to_bgr,
    message_to_bgr,
)


@pytest.fixture(scope="module")
def bgr() -> np.ndarray:
    from skimage import data
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[:256, 128:448].copy()  # 256 x 320, the face


def image_msg(pixels: np.ndarray, encoding: str, *, rows: int | None = None, pad: int = 0,
              bigendian: bool = False, width: int | None = None) -> SimpleNamespace:
    """An Image-like message with the bytes of ``pixels`` (H x W [x C]), each row padded by ``pad`` bytes."""
    buffer = np.ascontiguousarray(pixels)
    if buffer.dtype.itemsize == 2:
        buffer = buffer.astype(">u2" if bigendian else "<u2")
    height = buffer.shape[0]
    row_bytes = buffer.nbytes // height
    rows_view = buffer.view(np.uint8).reshape(height, row_bytes)
    padded = np.full((height, row_bytes + pad), 0xAB, np.uint8)
    padded[:, :row_bytes] = rows_view
    return SimpleNamespace(height=rows if rows is not None else height, width=width or pixels.shape[1],
                           encoding=encoding,
                           is_bigendian=int(bigendian), step=row_bytes + pad, data=padded.tobytes())


def bt601_yuv(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-resolution Y, U, V (video range) by the BT.601 formulas, independent of OpenCV."""
    b, g, r = (bgr[..., i].astype(np.float64) for i in range(3))
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    return y, u, v


def to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int32) - b.astype(np.int32)).mean())


@pytest.mark.parametrize("encoding,pixels", [
    ("bgr8", lambda im: im),
    ("8UC3", lambda im: im),
    ("rgb8", lambda im: im[..., ::-1]),
    ("bgra8", lambda im: np.dstack([im, np.full(im.shape[:2], 255, np.uint8)])),
    ("rgba8", lambda im: np.dstack([im[..., ::-1], np.full(im.shape[:2], 7, np.uint8)])),
])
@pytest.mark.parametrize("pad", [0, 13])
def test_colour_encodings_are_exact_with_and_without_row_padding(bgr, encoding, pixels, pad):
    msg = image_msg(pixels(bgr), encoding, pad=pad)
    out = image_to_bgr(msg)
    assert out.flags.c_contiguous and out.dtype == np.uint8
    np.testing.assert_array_equal(out, bgr)


@pytest.mark.parametrize("pad", [0, 7])
def test_mono8_becomes_grey_bgr(bgr, pad):
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    out = image_to_bgr(image_msg(grey, "mono8", pad=pad))
    assert out.shape == bgr.shape
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], grey)


@pytest.mark.parametrize("encoding", ["mono16", "16UC1"])
@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("pad", [0, 3])  # an odd pad leaves the 16-bit rows unaligned
def test_16_bit_mono_is_scaled_to_8_bits_honouring_endianness(bgr, encoding, bigendian, pad):
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    wide = grey.astype(np.uint16) * 256 + 100  # full 16-bit range, low byte non-zero
    out = image_to_bgr(image_msg(wide, encoding, pad=pad, bigendian=bigendian))
    np.testing.assert_array_equal(out[..., 1], grey)


@pytest.mark.parametrize("encoding,order", [("yuv422", "uyvy"), ("uyvy", "uyvy"),
                                            ("yuv422_yuy2", "yuyv"), ("yuyv", "yuyv")])
@pytest.mark.parametrize("pad", [0, 10])
def test_packed_yuv422_matches_bt601(bgr, encoding, order, pad):
    y, u, v = bt601_yuv(bgr)
    u2 = (u[:, 0::2] + u[:, 1::2]) / 2
    v2 = (v[:, 0::2] + v[:, 1::2]) / 2
    packed = np.empty((bgr.shape[0], bgr.shape[1] * 2), np.uint8)
    if order == "uyvy":
        packed[:, 0::4], packed[:, 1::4], packed[:, 2::4], packed[:, 3::4] = (
            to_u8(u2), to_u8(y[:, 0::2]), to_u8(v2), to_u8(y[:, 1::2]))
    else:
        packed[:, 0::4], packed[:, 1::4], packed[:, 2::4], packed[:, 3::4] = (
            to_u8(y[:, 0::2]), to_u8(u2), to_u8(y[:, 1::2]), to_u8(v2))
    msg = image_msg(packed, encoding, pad=pad, width=bgr.shape[1])
    out = image_to_bgr(msg)
    assert out.shape == bgr.shape
    assert mean_abs(out, bgr) < 4.0
    other = "yuyv" if order == "uyvy" else "uyvy"
    msg.encoding = other
    assert mean_abs(image_to_bgr(msg), bgr) > 20.0  # the byte order matters


@pytest.mark.parametrize("encoding", ["nv12", "nv21"])
@pytest.mark.parametrize("pad", [0, 16])
def test_semi_planar_yuv420_uses_ros_height_and_matches_bt601(bgr, encoding, pad):
    height, width = bgr.shape[:2]
    y, u, v = bt601_yuv(bgr)
    u4 = u.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
    v4 = v.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
    chroma = np.empty((height // 2, width), np.uint8)
    first, second = (u4, v4) if encoding == "nv12" else (v4, u4)
    chroma[:, 0::2], chroma[:, 1::2] = to_u8(first), to_u8(second)
    planes = np.vstack([to_u8(y), chroma])
    msg = image_msg(planes, encoding, rows=height, pad=pad)  # ROS: height = image rows, not buffer rows
    out = image_to_bgr(msg)
    assert out.shape == bgr.shape
    assert mean_abs(out, bgr) < 5.0
    msg.encoding = "nv21" if encoding == "nv12" else "nv12"
    assert mean_abs(image_to_bgr(msg), bgr) > 10.0


BAYER_CELLS = {"bayer_rggb8": "RGGB", "bayer_bggr8": "BGGR", "bayer_gbrg8": "GBRG", "bayer_grbg8": "GRBG"}


def mosaic(bgr: np.ndarray, cells: str) -> np.ndarray:
    channel = {"B": 0, "G": 1, "R": 2}
    out = np.empty(bgr.shape[:2], np.uint8)
    for k, (dy, dx) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        out[dy::2, dx::2] = bgr[dy::2, dx::2, channel[cells[k]]]
    return out


@pytest.mark.parametrize("encoding", sorted(BAYER_CELLS))
def test_bayer_demosaics_with_the_ros_pattern(bgr, encoding):
    msg = image_msg(mosaic(bgr, BAYER_CELLS[encoding]), encoding)
    right = mean_abs(image_to_bgr(msg), bgr)
    assert right < 6.0
    for other, cells in BAYER_CELLS.items():
        if other != encoding:
            assert mean_abs(image_to_bgr(image_msg(mosaic(bgr, cells), encoding)), bgr) > right + 5.0


@pytest.mark.parametrize("make_data", [bytes, bytearray, lambda b: array.array("B", b),
                                       lambda b: list(b), lambda b: np.frombuffer(b, np.uint8)])
def test_any_byte_container_is_accepted(bgr, make_data):
    msg = image_msg(bgr, "bgr8", pad=4)
    msg.data = make_data(msg.data)
    np.testing.assert_array_equal(image_to_bgr(msg), bgr)


def test_result_is_a_copy_independent_of_the_message_buffer(bgr):
    data = np.ascontiguousarray(bgr).reshape(-1).copy()
    msg = SimpleNamespace(height=bgr.shape[0], width=bgr.shape[1], encoding="bgr8", is_bigendian=0,
                          step=bgr.shape[1] * 3, data=data)
    out = image_to_bgr(msg)
    data[:] = 0
    np.testing.assert_array_equal(out, bgr)


@pytest.mark.parametrize("encoding", ["bgr8", "rgb8", "mono8"])
def test_image_fields_round_trip(bgr, encoding):
    fields = bgr_to_image_fields(bgr, encoding)
    assert fields["step"] == bgr.shape[1] * (1 if encoding == "mono8" else 3)
    out = image_to_bgr(SimpleNamespace(**fields))
    expected = cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR) \
        if encoding == "mono8" else bgr
    np.testing.assert_array_equal(out, expected)


def test_jpeg_and_png_decode(bgr):
    jpeg = compressed_to_bgr(SimpleNamespace(**bgr_to_compressed_fields(bgr, "jpeg", 95)))
    assert jpeg.shape == bgr.shape and mean_abs(jpeg, bgr) < 3.0
    png = message_to_bgr(SimpleNamespace(**bgr_to_compressed_fields(bgr, "png")))
    np.testing.assert_array_equal(png, bgr)
    ok, grey_jpeg = cv2.imencode(".jpg", cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    assert ok
    assert compressed_to_bgr(SimpleNamespace(format="mono8; jpeg compressed mono8", data=grey_jpeg)).shape \
        == bgr.shape


def raw(bgr: np.ndarray, **changes) -> SimpleNamespace:
    msg = SimpleNamespace(**bgr_to_image_fields(bgr, "rgb8"))
    for key, value in changes.items():
        setattr(msg, key, value)
    return msg


@pytest.mark.parametrize("change,reason,words", [
    (lambda m: setattr(m, "data", m.data[: m.data.size // 2]), "truncated_data", ["bytes", "needs"]),
    (lambda m: setattr(m, "step", m.width * 2), "bad_step", ["step", "smaller"]),
    (lambda m: setattr(m, "encoding", "32FC7"), "unknown_encoding", ["32FC7", "bgr8"]),
    (lambda m: setattr(m, "encoding", ""), "unknown_encoding", ["encoding"]),
    (lambda m: (setattr(m, "height", 0), setattr(m, "data", b"")), "zero_size", ["empty"]),
    (lambda m: (setattr(m, "width", 0), setattr(m, "step", 0)), "zero_size", ["empty"]),
    (lambda m: (setattr(m, "encoding", "yuv422"), setattr(m, "width", 319), setattr(m, "step", 638)),
     "bad_size", ["even width"]),
])
def test_bad_raw_images_raise_one_error_type_that_names_the_problem(bgr, change, reason, words):
    msg = raw(bgr)
    change(msg)
    with pytest.raises(ImageMessageError) as caught:
        image_to_bgr(msg)
    assert isinstance(caught.value, InputError)
    assert caught.value.reason == reason
    for word in words:
        assert word in str(caught.value)


def corrupt_body(data: np.ndarray) -> np.ndarray:
    broken = data.copy()
    broken[600:2600] = 0x55
    return broken


@pytest.mark.parametrize("fmt,damage,reason", [
    ("jpeg", corrupt_body, "corrupt_compressed"),
    ("jpeg", lambda d: d[: d.size // 2], "corrupt_compressed"),
    ("png", lambda d: d[: d.size // 2], "corrupt_compressed"),
    ("png", lambda d: np.frombuffer(b"this is not an image at all", np.uint8), "corrupt_compressed"),
    ("jpeg", lambda d: d[:0], "zero_size"),
])
def test_bad_compressed_images_raise(bgr, fmt, damage, reason):
    fields = bgr_to_compressed_fields(bgr, fmt)
    fields["data"] = damage(fields["data"])
    with pytest.raises(ImageMessageError) as caught:
        compressed_to_bgr(SimpleNamespace(**fields))
    assert caught.value.reason == reason
    assert "re-record" in str(caught.value) or "driver" in str(caught.value) or "JPEG or PNG" in str(caught.value)


def test_compressed_depth_is_refused_with_advice(bgr):
    fields = bgr_to_compressed_fields(bgr, "png")
    with pytest.raises(ImageMessageError, match="depth"):
        compressed_to_bgr(SimpleNamespace(format="16UC1; compressedDepth png", data=fields["data"]))
