"""Helpers every stage uses: atomic outputs (io), label spaces (labels), one record per dataset
format (formats), seeds, sharding, devices, logs, figures, captions, settings objects, the files
installed packages ship (packages) and the rule scripts' import closures (imports)."""
