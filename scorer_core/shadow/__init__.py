"""Shadow mode: mirrored records, dry runs, comparison with the primary's answer, reports."""
