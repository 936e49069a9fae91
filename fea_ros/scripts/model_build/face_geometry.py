"""MediaPipe's canonical face model, read from the geometry metadata inside face_landmarker.task.

The Face Landmarker bundle carries ``geometry_pipeline_metadata_landmarks.binarypb``: a serialised
``mediapipe.face_geometry.GeometryPipelineMetadata`` (mediapipe/modules/face_geometry/protos/, Apache-2.0):

    GeometryPipelineMetadata { Mesh3d canonical_mesh = 1; repeated WeightedLandmarkRef
                               procrustes_landmark_basis = 2; InputSource input_source = 3; }
    Mesh3d { VertexType vertex_type = 1;  // 0 = VERTEX_PT: x, y, z, u, v per vertex
             PrimitiveType primitive_type = 2;  // 0 = TRIANGLE
             repeated float vertex_buffer = 3; repeated uint32 index_buffer = 4; }
    WeightedLandmarkRef { uint32 landmark_id = 1; float weight = 2; }

The protobuf wire format is decoded here by hand (varints, fixed32 and length-delimited fields, packed or
not), so the build needs no protobuf package and no .proto compiler. The result is written as JSON.
"""
from __future__ import annotations

import json
import struct
from collections.abc import Iterator

#: the member inside face_landmarker.task
METADATA_MEMBER = "geometry_pipeline_metadata_landmarks.binarypb"
VERTEX_PT_FLOATS = 5  # x, y, z (cm), u, v
MESH_VERTICES = 468


class GeometryFormatError(ValueError):
    """The metadata bytes are not the GeometryPipelineMetadata this converter knows."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise GeometryFormatError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def _fields(data: bytes) -> Iterator[tuple[int, int, int | float | bytes]]:
    """(field number, wire type, value) for each field of one message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | float | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = struct.unpack_from("<f", data, pos)[0], pos + 4
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        else:
            raise GeometryFormatError(f"unsupported wire type {wire} for field {number}")
        yield number, wire, value


def _floats(wire: int, value: int | float | bytes) -> list[float]:
    if wire == 5:
        return [float(value)]  # type: ignore[arg-type]
    if wire == 2 and isinstance(value, bytes):  # packed
        return list(struct.unpack(f"<{len(value) // 4}f", value))
    raise GeometryFormatError(f"a float field has wire type {wire}")


def _uints(wire: int, value: int | float | bytes) -> list[int]:
    if wire == 0:
        return [int(value)]  # type: ignore[arg-type]
    if wire == 2 and isinstance(value, bytes):  # packed varints
        out, pos = [], 0
        while pos < len(value):
            item, pos = _varint(value, pos)
            out.append(item)
        return out
    raise GeometryFormatError(f"an integer field has wire type {wire}")


def parse_metadata(data: bytes) -> dict:
    """The canonical mesh and the Procrustes basis of a GeometryPipelineMetadata message."""
    vertices: list[float] = []
    indices: list[int] = []
    basis: list[tuple[int, float]] = []
    input_source = 0
    for number, wire, value in _fields(data):
        if number == 1 and isinstance(value, bytes):
            for mesh_number, mesh_wire, mesh_value in _fields(value):
                if mesh_number in (1, 2) and mesh_value != 0:
                    raise GeometryFormatError(f"Mesh3d field {mesh_number} is {mesh_value}; only VERTEX_PT "
                                              "triangles (0) are known")
                if mesh_number == 3:
                    vertices.extend(_floats(mesh_wire, mesh_value))
                elif mesh_number == 4:
                    indices.extend(_uints(mesh_wire, mesh_value))
        elif number == 2 and isinstance(value, bytes):
            landmark_id, weight = 0, 0.0
            for ref_number, ref_wire, ref_value in _fields(value):
                if ref_number == 1:
                    landmark_id = _uints(ref_wire, ref_value)[0]
                elif ref_number == 2:
                    weight = _floats(ref_wire, ref_value)[0]
            basis.append((landmark_id, weight))
        elif number == 3:
            input_source = int(value)  # type: ignore[arg-type]
    if len(vertices) != MESH_VERTICES * VERTEX_PT_FLOATS:
        raise GeometryFormatError(f"expected {MESH_VERTICES} VERTEX_PT vertices, got {len(vertices)} floats")
    if not indices or len(indices) % 3 or max(indices) >= MESH_VERTICES:
        raise GeometryFormatError("the index buffer is not a list of triangles over the mesh vertices")
    if not basis or any(not 0 <= i < MESH_VERTICES for i, _ in basis):
        raise GeometryFormatError("the Procrustes basis is empty or names a landmark outside the mesh")
    rows = [vertices[i:i + VERTEX_PT_FLOATS] for i in range(0, len(vertices), VERTEX_PT_FLOATS)]
    return {"input_source": input_source, "rows": rows, "triangles": indices, "basis": basis}


def face_geometry_json(data: bytes, source: str) -> bytes:
    """The canonical face model as canonical JSON bytes (floats as float32 values, repr round-trips)."""
    parsed = parse_metadata(data)
    doc = {
        "source": source,
        "licence": "Apache-2.0 (MediaPipe canonical face model, Google)",
        "units": "centimetres; model frame: x to the face's left (image right when facing the camera), "
                 "y up, z out of the face towards the viewer (MediaPipe's canonical_face_model.obj)",
        "input_source": "FACE_LANDMARK_PIPELINE" if parsed["input_source"] == 1 else str(parsed["input_source"]),
        "vertices": [row[:3] for row in parsed["rows"]],
        "uv": [row[3:] for row in parsed["rows"]],
        "triangles": [parsed["triangles"][i:i + 3] for i in range(0, len(parsed["triangles"]), 3)],
        "procrustes_landmark_ids": [i for i, _ in parsed["basis"]],
        "procrustes_weights": [w for _, w in parsed["basis"]],
    }
    return (json.dumps(doc, separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")
