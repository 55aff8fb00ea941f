"""Micro benches: each Rust function sits beside its pure-Python baseline (same group, same input).

pytest benches --benchmark-only --benchmark-group-by=group
"""
