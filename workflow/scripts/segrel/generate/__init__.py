"""Stage "generate" (workflow/rules/generate*.smk): BLIP captions, ControlNet on label maps,
generated domains, inpainted OOD objects, and the demo's tiny generators (demo/)."""
