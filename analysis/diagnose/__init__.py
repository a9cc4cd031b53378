"""The diagnosis pipeline: clock alignment, stream matching, the rules table and its rules, the model."""
