"""Speech models prepared for the browser (speech-to-text and text-to-speech) and their Python references."""
