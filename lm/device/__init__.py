"""Device-resident decoding: the static (CUDA-graph) decoder and on-device sampling."""
