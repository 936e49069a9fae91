"""Scoring the expression stage on labelled faces (`fea-ros evaluate expression`)."""
