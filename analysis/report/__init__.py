"""The report: figures (``plot_*(df, ax=None)``), lanes, the self-contained HTML page and its CLI."""
