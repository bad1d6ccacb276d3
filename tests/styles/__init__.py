"""Models written in the styles other people write them (see tests/test_styles.py)."""
