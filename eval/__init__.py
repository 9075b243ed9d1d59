"""Offline evaluation of policy-rag: gold questions, retrieval metrics against baselines, speed and scale benchmarks."""
