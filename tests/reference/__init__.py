"""Scripts run with other versions of scikit-learn, Pillow and numpy, and the numbers they
computed (each script runs standalone; the tests import them as tests.reference.<module>)."""
