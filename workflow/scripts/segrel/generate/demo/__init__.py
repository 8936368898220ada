"""The demo's tiny generators: built offline in the Hugging Face layout (builders) and
pre-trained on captioned procedural scenes (pretraining)."""
