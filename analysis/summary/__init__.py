"""``tearline summary``: capture DataFrames (``df_*``) and the one-line-per-stream table."""
