"""sensor_msgs/Image and CompressedImage <-> BGR uint8 arrays, without ROS.

The functions are duck-typed: they read ``height, width, encoding, is_bigendian, step, data`` (Image) or
``format, data`` (CompressedImage), so rclpy messages, rosbags messages and plain objects all work.
Every defect of a message raises ImageMessageError whose text names the defect and the fix, so callers
(the node, the replay) can skip the frame and count the reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from fea_ros.core.errors import InputError


class ImageMessageError(InputError):
    """An Image/CompressedImage message cannot be turned into a BGR image."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        #: short machine-readable cause, e.g. "truncated_data"; the replay report groups skips by it
        self.reason = reason


@dataclass(frozen=True)
class _Layout:
    channels: int  # values per pixel in the buffer (2 for packed YUV 4:2:2)
    itemsize: int  # bytes per value
    to_bgr: int | None  # cv2 colour conversion code; None = already BGR
    rows_factor: tuple[int, int] = (1, 1)  # buffer rows = height * num / den (semi-planar YUV 4:2:0)


_BAYER = {  # ROS names the top-left 2x2 cell; OpenCV names the cell one pixel down-right of it
    "bayer_rggb8": cv2.COLOR_BayerBG2BGR,
    "bayer_bggr8": cv2.COLOR_BayerRG2BGR,
    "bayer_gbrg8": cv2.COLOR_BayerGR2BGR,
    "bayer_grbg8": cv2.COLOR_BayerGB2BGR,
}

_LAYOUTS: dict[str, _Layout] = {
    "bgr8": _Layout(3, 1, None),
    "8uc3": _Layout(3, 1, None),
    "rgb8": _Layout(3, 1, cv2.COLOR_RGB2BGR),
    "bgra8": _Layout(4, 1, cv2.COLOR_BGRA2BGR),
    "8uc4": _Layout(4, 1, cv2.COLOR_BGRA2BGR),
    "rgba8": _Layout(4, 1, cv2.COLOR_RGBA2BGR),
    "mono8": _Layout(1, 1, cv2.COLOR_GRAY2BGR),
    "8uc1": _Layout(1, 1, cv2.COLOR_GRAY2BGR),
    "mono16": _Layout(1, 2, cv2.COLOR_GRAY2BGR),
    "16uc1": _Layout(1, 2, cv2.COLOR_GRAY2BGR),
    "bgr16": _Layout(3, 2, None),
    "rgb16": _Layout(3, 2, cv2.COLOR_RGB2BGR),
    "yuv422": _Layout(2, 1, cv2.COLOR_YUV2BGR_UYVY),
    "uyvy": _Layout(2, 1, cv2.COLOR_YUV2BGR_UYVY),
    "yuv422_yuy2": _Layout(2, 1, cv2.COLOR_YUV2BGR_YUY2),
    "yuyv": _Layout(2, 1, cv2.COLOR_YUV2BGR_YUY2),
    "nv12": _Layout(1, 1, cv2.COLOR_YUV2BGR_NV12, (3, 2)),
    "nv21": _Layout(1, 1, cv2.COLOR_YUV2BGR_NV21, (3, 2)),
    **{name: _Layout(1, 1, code) for name, code in _BAYER.items()},
}

#: encodings image_to_bgr accepts (lower case; matching is case-insensitive)
SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(sorted(_LAYOUTS))


def _as_bytes_view(data: Any) -> np.ndarray:
    """A flat uint8 view of ``data`` (bytes, bytearray, array.array, numpy array, list of ints)."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def image_to_bgr(msg: Any) -> np.ndarray:
    """Convert a sensor_msgs/Image to a C-contiguous BGR uint8 H x W x 3 array (always a copy).

    16-bit encodings are scaled to 8 bits by dividing by 256 (as cv_bridge does), honouring is_bigendian.
    Row padding (``step`` larger than the pixel bytes of a row) is skipped with a strided view.
    """
    encoding = str(msg.encoding).strip()
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    layout = _LAYOUTS.get(encoding.lower())
    if layout is None:
        raise ImageMessageError(
            "unknown_encoding",
            f"image encoding '{encoding}' is not supported; publish one of {', '.join(SUPPORTED_ENCODINGS)} "
            "(e.g. set the camera driver's pixel format to bgr8, rgb8 or mono8)")
    if height <= 0 or width <= 0:
        raise ImageMessageError(
            "zero_size", f"image is {width}x{height} pixels; the camera published an empty image, "
            "check the driver and its resolution setting")
    pixel_bytes = layout.channels * layout.itemsize
    if step < width * pixel_bytes:
        raise ImageMessageError(
            "bad_step", f"step {step} is smaller than width {width} x {pixel_bytes} bytes per pixel "
            f"({width * pixel_bytes}) for '{encoding}'; the publisher sets step wrongly, it must be at "
            "least width * bytes per pixel")
    num, den = layout.rows_factor
    subsampled = num != den  # 4:2:0 chroma: even width and height
    if (layout.channels == 2 or subsampled) and width % 2 or subsampled and height % 2:
        raise ImageMessageError(
            "bad_size", f"'{encoding}' needs an even width{' and height' if subsampled else ''}, "
            f"got {width}x{height}; fix the camera resolution")
    rows = height * num // den
    buffer = _as_bytes_view(msg.data)
    needed = step * rows
    if buffer.size < needed:
        raise ImageMessageError(
            "truncated_data", f"image data has {buffer.size} bytes but {encoding} {width}x{height} with "
            f"step {step} needs {needed}; the message was cut short (recording or transport problem), "
            "re-record or drop this message")
    dtype = np.dtype(np.uint8) if layout.itemsize == 1 else np.dtype(">u2" if msg.is_bigendian else "<u2")
    pixels = np.ndarray(shape=(rows, width, layout.channels), dtype=dtype, buffer=buffer[:needed],
                        strides=(step, pixel_bytes, layout.itemsize))
    if layout.itemsize == 2:
        pixels = (pixels >> 8).astype(np.uint8)
    if layout.channels == 1:
        pixels = pixels[:, :, 0]
    if layout.to_bgr is None:
        return np.array(pixels, order="C", copy=True)  # never a view of the message buffer
    return np.ascontiguousarray(cv2.cvtColor(pixels, layout.to_bgr))


_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def compressed_to_bgr(msg: Any) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (JPEG or PNG) to a BGR uint8 H x W x 3 array."""
    fmt = str(getattr(msg, "format", "")).strip()
    if "compresseddepth" in fmt.lower():
        raise ImageMessageError(
            "unknown_encoding", f"CompressedImage format '{fmt}' is a depth image; faces need a colour or "
            "mono camera topic (e.g. .../image_raw/compressed)")
    buffer = _as_bytes_view(msg.data)
    if buffer.size == 0:
        raise ImageMessageError(
            "zero_size", "CompressedImage has no data; the camera published an empty frame, check the driver")
    head = buffer[:8].tobytes()
    if head.startswith(_JPEG_MAGIC):
        end = np.flatnonzero(buffer[::-1] != 0)
        tail = buffer[: buffer.size - int(end[0])][-2:].tobytes() if end.size else b""
        if tail != b"\xff\xd9":
            raise ImageMessageError(
                "corrupt_compressed", f"JPEG data ({buffer.size} bytes) has no end-of-image marker: the "
                "frame was cut short; re-record or drop this message")
    elif not head.startswith(_PNG_MAGIC):
        raise ImageMessageError(
            "corrupt_compressed", f"CompressedImage data (format '{fmt}') is neither JPEG nor PNG "
            f"(first bytes {head[:4].hex()}); publish JPEG or PNG via image_transport 'compressed'")
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ImageMessageError(
            "corrupt_compressed", f"CompressedImage ({fmt or 'no format'}, {buffer.size} bytes) could not "
            "be decoded; the data is corrupt, re-record or drop this message")
    return np.ascontiguousarray(image)


def message_to_bgr(msg: Any) -> np.ndarray:
    """Image or CompressedImage, told apart by their fields."""
    if hasattr(msg, "encoding"):
        return image_to_bgr(msg)
    return compressed_to_bgr(msg)


def bgr_to_image_fields(image: np.ndarray, encoding: str = "bgr8") -> dict[str, Any]:
    """The data fields of a sensor_msgs/Image holding ``image`` (BGR uint8, or H x W for mono8).

    ``encoding`` is bgr8, rgb8 or mono8; the caller adds the header.
    """
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.size == 0:
        raise ImageMessageError("bad_image", f"expected a non-empty uint8 H x W (x 3) image, got "
                                f"{image.dtype} {image.shape}; convert it with cv2 first")
    if encoding == "mono8":
        pixels = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    elif encoding in ("bgr8", "rgb8"):
        bgr = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        pixels = bgr if encoding == "bgr8" else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    else:
        raise ImageMessageError("unknown_encoding",
                                f"cannot write encoding '{encoding}'; use bgr8, rgb8 or mono8")
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    return {"height": height, "width": width, "encoding": encoding, "is_bigendian": 0,
            "step": pixels.strides[0], "data": pixels.reshape(-1)}


def bgr_to_compressed_fields(image: np.ndarray, fmt: str = "jpeg", quality: int = 90) -> dict[str, Any]:
    """The data fields of a sensor_msgs/CompressedImage holding ``image`` encoded as JPEG or PNG."""
    if fmt not in ("jpeg", "png"):
        raise ImageMessageError("unknown_encoding", f"cannot compress to '{fmt}'; use jpeg or png")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if fmt == "jpeg" else []
    ok, encoded = cv2.imencode(f".{'jpg' if fmt == 'jpeg' else 'png'}", image, params)
    if not ok:
        raise ImageMessageError("bad_image", f"cv2 could not encode a {image.shape} image as {fmt}")
    return {"format": fmt, "data": encoded.reshape(-1)}


#: an image smaller than this on either side cannot hold a face the detector can find
MIN_IMAGE_SIDE = 16


def to_bgr(image: object, min_side: int = MIN_IMAGE_SIDE) -> np.ndarray:
    """The frame as a BGR uint8 H x W x 3 array (grey and BGRA converted), or InputError saying why not."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"a frame image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(f"a frame image must be uint8 (8-bit BGR), got {image.dtype}; convert it first "
                         "(e.g. cv_bridge encoding 'bgr8', or (img / img.max() * 255).astype(np.uint8))")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        converted = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 3:
        converted = image
    elif image.ndim == 3 and image.shape[2] == 4:
        converted = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    else:
        raise InputError(f"a frame image must be H x W (grey), H x W x 1, x 3 (BGR) or x 4 (BGRA); "
                         f"got shape {image.shape}")
    height, width = converted.shape[:2]
    if min(height, width) < min_side:
        raise InputError(f"the image is {width}x{height} px, too small to hold a face; frames must be at "
                         f"least {min_side}x{min_side} px (detection.min_face_px is the smallest face)")
    return np.ascontiguousarray(converted)
