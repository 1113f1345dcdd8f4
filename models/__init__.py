"""Models: encoders behind one interface, ONNX export and runtime, the ANN index, registry access.

Imports nothing else of ours (see docs/architecture.md).
"""
