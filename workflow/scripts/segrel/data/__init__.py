"""Stage "data" (workflow/rules/data.smk): the real datasets obtained and prepared
(acquisition, download, IDD label rendering), and the embedded demo's procedural datasets (demo/)."""
