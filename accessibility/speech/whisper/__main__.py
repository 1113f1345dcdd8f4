"""``python -m accessibility.speech.whisper --out DIR``: build the browser's speech-recognition files."""

from .build import main

main()
