"""Metrics over a run: accuracy with intervals (overall and by item metadata), selective accuracy, calibration,
agreement, rankings, robustness, paired comparisons, live-check flag rates, confidence below a blind guess, and what
a debate tournament tells about its debater models. The statistics come from maintained libraries (scipy,
scikit-learn, statsmodels, krippendorff, choix); ``agora.metrics.measure`` reads a run store and computes them all.
"""
