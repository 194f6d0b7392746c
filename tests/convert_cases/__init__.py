"""Data for the converter tests, and the guide's sample scripts as reference implementations."""
