"""Stage "models" (workflow/rules/models.smk): mmseg segmentors trained here (demo) or released
in mmseg's zoo, loaded for inference."""
