"""Accessibility: image descriptions, speech-model preparation for the browser, screen-reader text helpers."""
