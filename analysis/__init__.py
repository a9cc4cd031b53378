"""tearline's analysis side: captures and browser evidence as pandas DataFrames,
diagnosis rules, and reports. Imports no mitmproxy."""
