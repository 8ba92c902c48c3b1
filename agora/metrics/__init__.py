"""Metrics over a run: accuracy with intervals, selective accuracy, calibration, agreement, rankings, robustness,
paired comparisons. Each is computed with a maintained library (scipy, scikit-learn, statsmodels, krippendorff,
choix); ``agora.metrics.measure`` reads a run store and computes them all.
"""
