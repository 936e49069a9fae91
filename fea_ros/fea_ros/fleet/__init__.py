"""Replay a corpus of bags on Ray (`fea-ros replay-many`): one task per bag, a corpus report, resume, compare."""
