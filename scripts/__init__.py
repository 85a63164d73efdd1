"""The command lines over the library: sweeps, tables, figures, UDR, conversion, downloads."""
