"""The register and timetable in YAML: read with line numbers, validate, sync to the database."""
