"""The demo's tiny generators: built offline in the Hugging Face layout (builders) and
pre-trained on captioned procedural scenes (pretraining)."""

#: the demo generators :mod:`segrel.generate.demo.pretraining` pre-trains (here, so that the
#: Snakefile reads it without importing torch); the detector and SAM stay as initialised
PRETRAINED = ("stable_diffusion", "stable_diffusion_xl", "inpainting", "captioner")
