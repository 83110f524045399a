"""A test device whose latency is a roofline estimate (nothing is timed) and a tiny space, for
tests that run whole searches in seconds."""

from __future__ import annotations

TINY_DEVICE_YAML = """\
name: tiny-roofline
description: a test device whose latency is a roofline estimate (nothing is timed)
input_hw: [32, 32]
threads: 1
budgets: {params: null, macs: null, latency_ms: null, memory_mib: null}
latency: {method: roofline, peak_gflops: 10.0, bandwidth_gbps: 5.0}
sources: []
"""
TINY_SPACE_YAML = """\
name: tiny
family: rfdb
scale: 2
channels: [4, 8]
num_blocks: {low: 1, high: 2}
share_blocks: true
blocks:
  conv: [standard, dcb]
  kernels: {dcb: [[3], [5]]}
  attention: [none]
"""
