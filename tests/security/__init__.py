"""Attacks from the black-box probe (issue 19), each against the fixed behaviour."""
