"""Analysis of a study's results: reading eval JSON (results), statistics, the rows of its
tables (tables), the pools of runs a selection rule chooses among (pools), unsupervised model
selection (selection), the rows of each training budget and of several folders (study), what a
larger budget changes (budgets), text (report, budget_report) and figures (figures, curves,
budget_figures). scripts/tables.py and scripts/visualize.py are the command lines over it."""
