"""The experiment runner: configs in, trained models, metrics and run folders out.

The framework (the modules one level up) never imports from here.
"""
