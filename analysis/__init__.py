"""Analysis of a study's results: reading eval JSON (results), statistics, the rows of its
tables (tables), unsupervised model selection (selection), text (report) and figures (figures,
curves). scripts/tables.py and scripts/visualize.py are the command lines over it."""
