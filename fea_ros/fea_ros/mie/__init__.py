"""Micro-expression spotting: the streaming spotter, the MEGC evaluation protocol and dataset adapters."""
